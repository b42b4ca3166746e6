// Energy: kWh per day, week or month for the whole fleet, a type, a tag or a home; cost
// and carbon; solar measured against expected; the 24-hour forecast with its interval;
// anomalies found.
import { api } from "../api.js";
import { chartLibrary, makeBarChart } from "../chart.js";
import { errorBox, fmtDay, fmtNumber, fmtTime, h, mount, section, table } from "../dom.js";

const PERIODS = [
  { label: "Days (last 14)", interval: "1d", days: 14 },
  { label: "Weeks (last 12)", interval: "1w", days: 84 },
  { label: "Months (last 12)", interval: "1mo", days: 365 },
];

export async function render(main) {
  // types and tags in use from the summary (one row each, whatever the fleet's size);
  // the device list only fills the one-device picker
  const [summary, devices, homes, pv] = await Promise.all([
    api("/device-summary"),
    api("/devices", { params: { limit: 1000 } }).then((b) => b.devices),
    api("/homes").catch(() => []),
    api("/pv-systems").then((b) => new Set(b.device_ids)).catch(() => new Set()),
  ]);
  const types = [...summary.types].sort();
  const tags = [...summary.tags].sort();
  // a home's devices: its sources' meters, its load meter and its flexible device
  const homeDevices = new Map(homes.map((home) => [home.home_id, [...new Set(
    [...home.sources.map((src) => src.device_id), home.load_device_id, home.flexible_device_id].filter(Boolean))].sort()]));
  const state = { period: PERIODS[0], scope: "all" };
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

  const kwhBox = h("div", {});
  const costBox = h("div", {});
  const forecastBox = h("div", {});
  const anomalyBox = h("div", {});

  const scopeParams = () => {
    const [kind, ...rest] = state.scope.split(":");
    const value = rest.join(":");
    if (kind === "home") return { devices: homeDevices.get(value).join(",") };
    return kind === "type" ? { type: value } : kind === "tag" ? { tag: value } : { all: "true" };
  };

  // a scope or period picked while the previous one is still loading: only the newest
  // answer is drawn (the fleet's, slower, used to land after a home's and replace it)
  let drawn = 0;
  async function drawEnergy() {
    const mine = ++drawn;
    if (state.scope.startsWith("home:") && !homeDevices.get(state.scope.slice(5)).length) {
      mount(kwhBox, h("p", { class: "muted" }, "This home names no devices: give it sources or a load meter on the Home page."));
      mount(costBox);
      return;
    }
    const start = new Date(Date.now() - state.period.days * 86400e3).toISOString();
    const params = { ...scopeParams(), interval: state.period.interval, tz, start };
    const [energy, cost] = await Promise.all([
      api("/energy", { params }),
      api("/energy/cost", { params }).catch((e) => ({ error: e })),
    ]);
    if (mine !== drawn) return;
    const max = Math.max(0.001, ...energy.buckets.map((b) => b.kwh));
    mount(kwhBox,
      h("p", {}, h("strong", {}, `${fmtNumber(energy.total_kwh, 2)} kWh`), ` in total, ${tz} calendar.`),
      table("kWh per period", ["Period starting", "kWh", ""],
        energy.buckets.map((b) => [fmtDay(b.start), fmtNumber(b.kwh, 3), bar(b.kwh / max)])),
      table("Per device", ["Device", "Method", "kWh"],
        (energy.devices || []).map((d) => [h("a", { href: `#/device/${encodeURIComponent(d.device_id)}` }, d.device_id), d.method || "no energy series", fmtNumber(d.total_kwh, 3)])));
    if (cost.error) {
      mount(costBox, errorBox(cost.error));
      return;
    }
    mount(costBox, costTable(cost));
  }

  function costTable(cost) {
    const priced = (cost.devices || []).filter((d) => d.tariff_id);
    return h("div", {},
      h("p", {}, h("strong", {}, `${fmtNumber(cost.cost, 2)} ${cost.currency}`),
        ` for ${fmtNumber(cost.import_kwh, 3)} kWh imported and ${fmtNumber(cost.export_kwh, 3)} kWh exported.`),
      priced.length ? null : h("p", { class: "muted small" },
        "No device has a tariff, so nothing is priced: assign one with PUT /api/v1/tariff-assignments (docs/energy.md)."),
      table("Cost per period", ["Period starting", "Imported kWh", "Exported kWh", "Cost"],
        cost.buckets.filter((b) => b.import_kwh || b.export_kwh || b.cost).map((b) => [
          fmtDay(b.start), fmtNumber(b.import_kwh, 3), fmtNumber(b.export_kwh, 3), `${fmtNumber(b.cost, 2)} ${cost.currency}`]),
        "No priced energy in this range."));
  }

  const scope = h("select", { id: "e-scope", onchange: (e) => { state.scope = e.target.value; drawEnergy().catch((err) => mount(kwhBox, errorBox(err))); } },
    h("option", { value: "all" }, "whole fleet"),
    types.map((t) => h("option", { value: `type:${t}` }, `type ${t}`)),
    tags.map((t) => h("option", { value: `tag:${t}` }, `tag ${t}`)),
    homes.map((home) => h("option", { value: `home:${home.home_id}` }, `home ${home.home_id} (${homeDevices.get(home.home_id).length} devices)`)));
  const period = h("select", { id: "e-period", onchange: (e) => { state.period = PERIODS[Number(e.target.value)]; drawEnergy().catch((err) => mount(kwhBox, errorBox(err))); } },
    PERIODS.map((p, i) => h("option", { value: String(i) }, p.label)));
  const forecastDevice = h("select", { id: "e-forecast", onchange: (e) => { drawForecast(e.target.value); drawCarbon(e.target.value); drawSolar(e.target.value); } },
    devices.map((d) => h("option", { value: d.device_id }, d.device_id)));

  const settings = await api("/energy/settings");
  const carbonBox = h("div", {});
  const zone = h("input", { id: "e-zone", value: settings.carbon_zone || "GB", maxlength: "11", size: "6",
    onchange: () => drawCarbon(forecastDevice.value) });

  async function drawCarbon(deviceId) {
    try {
      const e = await api(`/devices/${encodeURIComponent(deviceId)}/emissions`, { params: { zone: zone.value.trim().toUpperCase(), tz } });
      mount(carbonBox, h("p", {}, h("strong", {}, `${fmtNumber(e.grams_co2e / 1000, 3)} kg CO₂e`), ` for ${fmtNumber(e.kwh, 3)} kWh in zone ${e.zone}.`),
        table("Carbon per day", ["Day", "kWh", "CO₂e", "Intensity from"],
          e.days.map((d) => [fmtDay(d.start), fmtNumber(d.kwh, 3), `${fmtNumber(d.grams_co2e, 1)} g`,
            Object.entries(d.hours_by_source).map(([k, v]) => `${k} ${v} h`).join(", ")])));
    } catch (err) {
      mount(carbonBox, h("p", { class: "muted" }, `No carbon figures for ${deviceId}: ${err.message}`));
    }
  }

  const solarBox = h("div", { id: "solar" });
  let solarChart = null;

  // Measured against expected per local day (pvlib's clear-sky model on the device's PV
  // system); asked only for devices the tenant has described one for (/pv-systems), so a
  // device without one costs no failed request.
  let solarDrawn = 0;
  async function drawSolar(deviceId) {
    const mine = ++solarDrawn;
    if (solarChart) solarChart.dispose();
    solarChart = null;
    if (!pv.has(deviceId)) {
      mount(solarBox, h("p", { class: "muted" }, pv.size
        ? `${deviceId} has no PV system; ${[...pv].join(", ")} ${pv.size === 1 ? "has" : "have"} one.`
        : "No device has a PV system: describe an inverter's array with PUT /api/v1/devices/{id}/pv-system (docs/energy.md)."));
      return;
    }
    try {
      // the last 7 whole local days: today's expected is a whole day's, its measured
      // only so far, so today would read as underperforming every evening
      const midnight = new Date();
      midnight.setHours(0, 0, 0, 0);
      const first = new Date(midnight);
      first.setDate(first.getDate() - 7);
      const [start, end] = [first.toISOString(), midnight.toISOString()];
      solarBox.dataset.start = start;
      solarBox.dataset.end = end;
      const [s] = await Promise.all([api(`/devices/${encodeURIComponent(deviceId)}/solar`, { params: { tz, start, end } }), chartLibrary]);
      if (mine !== solarDrawn) return; // another device was picked meanwhile
      const chartBox = h("div", { class: "solar-chart", role: "img",
        "aria-label": `${deviceId}: measured and expected kWh per day` });
      const actual = s.days.reduce((a, d) => a + d.actual_kwh, 0);
      const expected = s.days.reduce((a, d) => a + d.expected_kwh, 0);
      mount(solarBox,
        h("p", {}, h("strong", {}, `${fmtNumber(actual, 2)} kWh measured`), ` against ${fmtNumber(expected, 2)} kWh expected over the last ${s.days.length} whole days (${s.system.kwp} kWp, tilt ${s.system.tilt_deg}°, azimuth ${s.system.azimuth_deg}°).`),
        chartBox,
        table("Measured against expected per day", ["Day", "Measured kWh", "Expected kWh", "Performance ratio", "Measured / expected", "Irradiance"],
          s.days.map((d) => [fmtDay(d.start), fmtNumber(d.actual_kwh, 3), fmtNumber(d.expected_kwh, 3),
            d.performance_ratio === null ? "—" : fmtNumber(d.performance_ratio, 2),
            d.actual_over_expected === null ? "—" : `${fmtNumber(d.actual_over_expected * 100, 0)} %`, d.irradiance]),
          "No days in this range.", [4, 5]),
        s.findings.length
          ? table("Findings", ["From", "To", "Mean measured / expected", "Why"],
            s.findings.map((f) => [f.first_day, f.last_day, `${fmtNumber(f.mean_ratio * 100, 0)} %`, h("span", { class: "small" }, f.reason)]))
          : h("p", { class: "small muted", id: "solar-findings" }, "No underperformance found in these days."));
      solarChart = makeBarChart(chartBox, "kWh", s.days.map((d) => Date.parse(d.start) / 1000),
        s.days.map((d) => d.actual_kwh), s.days.map((d) => d.expected_kwh));
    } catch (e) {
      if (mine === solarDrawn) mount(solarBox, errorBox(e));
    }
  }

  async function drawForecast(deviceId) {
    // The forecaster needs 8 days of readings (docs/energy.md) and answers 422 before:
    // asked first how many days there are, so a young fleet's page logs no failed request.
    const history = await api(`/devices/${encodeURIComponent(deviceId)}/telemetry`,
      { params: { interval: "1d", start: Date.now() - 9 * 86400e3, agg: "count" } }).catch(() => null);
    const days = history ? history.buckets.length : 0;
    if (days < 8) {
      mount(forecastBox.querySelector(".out"), h("p", { class: "muted" },
        `No forecast for ${deviceId} yet: it needs 8 days of readings, and there are readings on ${days} day(s).`));
      return;
    }
    try {
      const f = await api(`/devices/${encodeURIComponent(deviceId)}/forecast`, { params: { hours: 24, tz } });
      const max = Math.max(0.001, ...f.hours.map((x) => x.p90_kwh));
      mount(forecastBox.querySelector(".out"),
        h("p", { class: "small muted" }, `Model ${f.model.version}${f.model.short_history ? " (short history)" : ""}; backtest MASE ${fmtNumber(f.model.backtest_mase, 2)}.`),
        table("Next 24 hours (p10 – p90 interval)", ["Hour", "kWh", "Interval", ""],
          f.hours.map((x) => [fmtTime(x.start), fmtNumber(x.kwh, 3), `${fmtNumber(x.p10_kwh, 3)} – ${fmtNumber(x.p90_kwh, 3)}`, bar(x.kwh / max)])));
    } catch (e) {
      mount(forecastBox.querySelector(".out"), h("p", { class: "muted" }, `No forecast for ${deviceId}: ${e.message}`));
    }
  }

  mount(main, h("h1", {}, "Energy"),
    section("Energy use", h("div", { class: "filters" },
      h("div", { class: "field" }, h("label", { for: "e-scope" }, "Devices"), scope),
      h("div", { class: "field" }, h("label", { for: "e-period" }, "Period"), period)), kwhBox),
    section("Cost", costBox),
    section("One device: forecast and carbon", h("div", { class: "filters" },
      h("div", { class: "field" }, h("label", { for: "e-forecast" }, "Device"), forecastDevice),
      h("div", { class: "field" }, h("label", { for: "e-zone" }, settings.carbon_zone ? "Carbon zone" : "Carbon zone (the tenant has none set)"), zone)),
      h("h3", {}, "Next 24 hours"), forecastBox, h("h3", {}, "Carbon"), carbonBox,
      h("h3", {}, "Solar: measured against expected"), solarBox),
    section("Anomalies", anomalyBox));
  forecastBox.append(h("div", { class: "out" }));
  await drawEnergy().catch((e) => mount(kwhBox, errorBox(e)));
  if (devices.length) {
    // a device with a PV system first, so the solar section shows something
    const first = devices.find((d) => pv.has(d.device_id)) || devices[0];
    forecastDevice.value = first.device_id;
    drawForecast(first.device_id);
    drawCarbon(first.device_id);
    drawSolar(first.device_id);
  }
  api("/anomalies", { params: { limit: 50 } }).then((body) => mount(anomalyBox,
    table("Newest findings", ["Device", "Kind", "When", "Observed", "Expected", "Why"],
      body.findings.map((f) => [f.device_id, f.kind, `${fmtTime(f.start)} – ${fmtTime(f.end)}`, `${fmtNumber(f.observed, 2)} ${f.unit}`,
        `${fmtNumber(f.expected_low, 2)} – ${fmtNumber(f.expected_high, 2)} ${f.unit}`, h("span", { class: "small" }, f.explanation)]),
      "No anomalies found: the detectors run hourly on each device's history."))).catch((e) => mount(anomalyBox, errorBox(e)));
  return () => {
    if (solarChart) solarChart.dispose();
  };
}

function bar(share) {
  const outer = h("div", { class: "bar", "aria-hidden": "true" });
  const fill = h("span", {});
  fill.style.width = `${Math.round(Math.min(1, Math.max(0, share)) * 100)}%`;
  outer.append(fill);
  return outer;
}
