// Energy: kWh per day, week or month for the whole fleet, a type or a tag; cost and
// carbon; the 24-hour forecast with its interval; anomalies found.
import { api } from "../api.js";
import { errorBox, fmtNumber, fmtTime, h, mount, section, table } from "../dom.js";

const PERIODS = [
  { label: "Days (last 14)", interval: "1d", days: 14 },
  { label: "Weeks (last 12)", interval: "1w", days: 84 },
  { label: "Months (last 12)", interval: "1mo", days: 365 },
];

export async function render(main) {
  const devices = (await api("/devices", { params: { limit: 1000 } })).devices;
  const types = [...new Set(devices.map((d) => d.type).filter(Boolean))].sort();
  const tags = [...new Set(devices.flatMap((d) => d.tags))].sort();
  const state = { period: PERIODS[0], scope: "all" };
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

  const kwhBox = h("div", {});
  const costBox = h("div", {});
  const forecastBox = h("div", {});
  const anomalyBox = h("div", {});

  const scopeParams = () => {
    const [kind, value] = state.scope.split(":");
    return kind === "type" ? { type: value } : kind === "tag" ? { tag: value } : { all: "true" };
  };

  async function drawEnergy() {
    const start = new Date(Date.now() - state.period.days * 86400e3).toISOString();
    const params = { ...scopeParams(), interval: state.period.interval, tz, start };
    const [energy, cost] = await Promise.all([
      api("/energy", { params }),
      state.period.interval === "1d" || state.period.interval === "1w" || state.period.interval === "1mo"
        ? api("/energy/cost", { params }).catch((e) => ({ error: e })) : null,
    ]);
    const max = Math.max(0.001, ...energy.buckets.map((b) => b.kwh));
    mount(kwhBox,
      h("p", {}, h("strong", {}, `${fmtNumber(energy.total_kwh, 2)} kWh`), ` in total, ${tz} calendar.`),
      table("kWh per period", ["Period starting", "kWh", ""],
        energy.buckets.map((b) => [fmtTime(b.start), fmtNumber(b.kwh, 3), bar(b.kwh / max)])),
      table("Per device", ["Device", "Method", "kWh"],
        (energy.devices || []).map((d) => [h("a", { href: `#/device/${encodeURIComponent(d.device_id)}` }, d.device_id), d.method || "no energy series", fmtNumber(d.total_kwh, 3)])));
    if (!cost || cost.error) {
      mount(costBox, cost ? errorBox(cost.error) : h("p", { class: "muted" }, "—"));
      return;
    }
    mount(costBox, costTable(cost));
  }

  function costTable(cost) {
    const rows = (cost.buckets || cost.periods || []).map((b) => [
      fmtTime(b.start), fmtNumber(b.import_kwh ?? b.kwh, 3), fmtNumber(b.export_kwh ?? 0, 3),
      b.cost === null || b.cost === undefined ? "—" : `${fmtNumber(b.cost, 2)} ${cost.currency || ""}`,
      b.co2_g === undefined || b.co2_g === null ? "—" : `${fmtNumber(b.co2_g / 1000, 2)} kg`,
    ]);
    return h("div", {},
      h("p", {}, h("strong", {}, cost.total_cost === undefined || cost.total_cost === null ? "" : `${fmtNumber(cost.total_cost, 2)} ${cost.currency || ""} `),
        cost.note || cost.tariff || ""),
      table("Cost and carbon per period", ["Period starting", "Imported kWh", "Exported kWh", "Cost", "CO₂"], rows, "No priced energy in this range."));
  }

  const scope = h("select", { id: "e-scope", onchange: (e) => { state.scope = e.target.value; drawEnergy().catch((err) => mount(kwhBox, errorBox(err))); } },
    h("option", { value: "all" }, "whole fleet"),
    types.map((t) => h("option", { value: `type:${t}` }, `type ${t}`)),
    tags.map((t) => h("option", { value: `tag:${t}` }, `tag ${t}`)));
  const period = h("select", { id: "e-period", onchange: (e) => { state.period = PERIODS[Number(e.target.value)]; drawEnergy().catch((err) => mount(kwhBox, errorBox(err))); } },
    PERIODS.map((p, i) => h("option", { value: String(i) }, p.label)));
  const forecastDevice = h("select", { id: "e-forecast", onchange: (e) => drawForecast(e.target.value) },
    devices.map((d) => h("option", { value: d.device_id }, d.device_id)));

  async function drawForecast(deviceId) {
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
    section("Cost and carbon", costBox),
    section("Forecast", h("div", { class: "filters" }, h("div", { class: "field" }, h("label", { for: "e-forecast" }, "Device"), forecastDevice)), forecastBox),
    section("Anomalies", anomalyBox));
  forecastBox.append(h("div", { class: "out" }));
  await drawEnergy().catch((e) => mount(kwhBox, errorBox(e)));
  if (devices.length) drawForecast(devices[0].device_id);
  api("/anomalies", { params: { limit: 50 } }).then((body) => mount(anomalyBox,
    table("Newest findings", ["Device", "Kind", "When", "Observed", "Expected", "Why"],
      body.findings.map((f) => [f.device_id, f.kind, `${fmtTime(f.start)} – ${fmtTime(f.end)}`, `${fmtNumber(f.observed, 2)} ${f.unit}`,
        `${fmtNumber(f.expected_low, 2)} – ${fmtNumber(f.expected_high, 2)} ${f.unit}`, h("span", { class: "small" }, f.explanation)]),
      "No anomalies found: the detectors run hourly on each device's history."))).catch((e) => mount(anomalyBox, errorBox(e)));
}

function bar(share) {
  const outer = h("div", { class: "bar", "aria-hidden": "true" });
  const fill = h("span", {});
  fill.style.width = `${Math.round(Math.min(1, Math.max(0, share)) * 100)}%`;
  outer.append(fill);
  return outer;
}
