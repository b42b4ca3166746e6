// One device: live chart with a range picker, latest values, sequence gaps, firmware
// and configuration, commands (operators and up) and their history.
import { api } from "../api.js";
import { canAct } from "../app.js";
import { badge, errorBox, fmtAgo, fmtMetric, fmtTime, h, mount, section, table, toast } from "../dom.js";
import { appendPoint, chartLibrary, makeChart, RANGES, rangeEdges, toSeries } from "../chart.js";
import { openLive } from "../live.js";

const PREFERRED = ["power_w", "temperature_c", "voltage_v", "light_lux"];
const RELAY_TYPES = new Set(["smart_plug"]);

export async function render(main, [deviceId, rangeKey]) {
  const path = `/devices/${encodeURIComponent(deviceId)}`;
  const device = await api(path);
  const metrics = Object.keys(device.latest).sort();
  const state = {
    metric: PREFERRED.find((m) => metrics.includes(m)) || metrics[0] || null,
    range: RANGES.find((r) => r.key === rangeKey) || RANGES[1],
    chart: null,
  };

  const latest = h("div", { class: "stats" });
  const chartBox = h("div", { class: "chart", id: "chart", role: "img", "aria-label": "chart" });
  const chartNote = h("p", { class: "muted small", "aria-live": "polite" });
  const anomalyList = h("div", { class: "anomalies" });
  const statusBadge = h("span", {}, badge(device.status));
  const seen = h("span", {}, fmtAgo(device.last_seen));

  function drawLatest() {
    mount(latest, Object.entries(device.latest).sort().map(([m, v]) =>
      h("div", { class: "stat", "data-metric": m },
        h("span", { class: "stat-label" }, m),
        h("span", { class: "stat-value" }, fmtMetric(m, v.value, 2)),
        h("span", { class: "small" }, fmtAgo(v.ts)))));
  }

  async function loadChart() {
    if (!state.metric) {
      mount(chartBox, h("p", { class: "muted" }, "No readings yet."));
      return;
    }
    const [startMs, endMs] = rangeEdges(state.range, Date.now());
    const params = { start: startMs, end: endMs, fields: state.metric, limit: 100000 };
    // buckets column-wise: what uPlot draws, in about a third of the bytes
    if (state.range.interval) Object.assign(params, { interval: state.range.interval, layout: "columns", agg: "avg,min,max" });
    const started = performance.now();
    // the device's anomaly findings overlapping the range, marked on the chart; none when
    // the process runs no detectors (501) or the list fails: the chart still draws
    const found = api("/anomalies", { params: { device: deviceId, since: startMs, until: endMs, limit: 200 } })
      .then((b) => b.findings.filter((f) => f.metric === state.metric)).catch(() => []);
    const [body, findings] = await Promise.all([api(`${path}/telemetry`, { params }), found, chartLibrary]);
    const series = toSeries(body, state.metric);
    if (state.chart) state.chart.dispose();
    chartBox.replaceChildren();
    chartBox.setAttribute("aria-label", `${state.metric} over the last ${state.range.label}`);
    state.chart = makeChart(chartBox, state.metric, series, findings);
    chartBox.dataset.findings = String(findings.length);
    mount(anomalyList, findings.length
      ? [h("p", { class: "small" }, `Anomalies in this range (shaded on the chart):`),
        h("ol", { class: "anomaly-list" }, findings.map((f) => h("li", { "data-finding": String(f.id) },
          h("strong", {}, `${f.kind} `), `${fmtTime(f.start)} – ${fmtTime(f.end)}: `, f.explanation)))]
      : []);
    const tier = body.interval ? `${body.interval} buckets from the ${body.source || "rollup"} tier` : "raw readings";
    chartNote.textContent = `${series.xs.length} points, ${tier}, in ${Math.round(performance.now() - started)} ms.`;
    chartBox.dataset.points = String(series.xs.length);
    chartBox.dataset.ready = "1";
  }

  const metricSelect = h("select", { id: "metric", onchange: (e) => { state.metric = e.target.value; loadChart(); } },
    metrics.map((m) => h("option", { value: m, selected: m === state.metric }, m)));
  const rangeButtons = h("div", { class: "ranges", role: "group", "aria-label": "Time range" },
    RANGES.map((r) => h("button", {
      type: "button", class: "chip", "aria-pressed": String(r === state.range),
      onclick: (e) => {
        state.range = r;
        // the range is part of the address (a link shows the same chart), without a re-render
        history.replaceState(null, "", `#/device/${encodeURIComponent(deviceId)}/${r.key}`);
        rangeButtons.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b === e.target)));
        loadChart().catch((err) => toast(err.message, "error"));
      },
    }, r.label)));

  const details = h("dl", { class: "facts" },
    h("dt", {}, "Type"), h("dd", {}, device.type || "unknown"),
    h("dt", {}, "Status"), h("dd", {}, statusBadge),
    h("dt", {}, "Last seen"), h("dd", {}, seen),
    h("dt", {}, "Firmware"), h("dd", {}, device.firmware_version || "—"),
    h("dt", {}, "Tags"), h("dd", {}, device.tags.join(", ") || "—"),
    h("dt", {}, "Capabilities"), h("dd", {}, device.capabilities.join(", ") || "—"),
    h("dt", {}, "Registered"), h("dd", {}, fmtTime(device.registered_at)));

  const gapsBox = h("div", {});
  const configBox = h("div", {});
  const commandsBox = h("div", {});
  const history = h("div", {});

  mount(main,
    h("p", { class: "crumbs" }, h("a", { href: "#/fleet" }, "Fleet"), " / ", deviceId),
    h("h1", {}, deviceId),
    section("Latest values", latest),
    section("Chart",
      h("div", { class: "chart-controls" },
        h("div", { class: "field" }, h("label", { for: "metric" }, "Metric"), metricSelect), rangeButtons),
      chartBox, chartNote, anomalyList),
    h("div", { class: "grid2" },
      section("Device", details),
      canAct() ? section("Commands", commandsBox) : null),
    h("div", { class: "grid2" },
      section("Sequence gaps", gapsBox),
      canAct() ? section("Configuration", configBox) : null),
    canAct() ? section("Command history", history) : null);
  drawLatest();
  await loadChart();

  api(`${path}/gaps`).then((body) => mount(gapsBox,
    h("p", {}, `Boot ${body.boot}, next sequence expected ${body.next_seq ?? "—"}: ${body.missing} missing, ${body.duplicates} duplicates dropped, ${body.resets} counter resets.`),
    table("Open gaps", ["Boot", "First", "Last", "Detected"],
      (body.gaps || []).map((g) => [String(g.boot), String(g.first_seq), String(g.last_seq), fmtTime(g.detected_at)]),
      "No gaps: every message sent has arrived."))).catch((e) => mount(gapsBox, errorBox(e)));

  async function loadHistory() {
    const body = await api(`${path}/commands`, { params: { limit: 20 } });
    mount(history, table("Newest first", ["Command", "State", "Result", "Issued by", "Created"],
      body.commands.map((c) => [c.name, badge(c.state), c.result || "—", c.issuer, fmtTime(c.created_at)]),
      "No commands yet."));
  }

  async function send(name, confirmText) {
    if (confirmText && !window.confirm(confirmText)) return;
    const result = h("p", { class: "muted", "aria-live": "polite" }, `Sending ${name}…`);
    commandsBox.querySelector(".result")?.replaceWith(result);
    result.className = "result muted";
    try {
      const command = await api(`${path}/commands`, { method: "POST", body: { name }, params: { wait: 10 } });
      result.textContent = `${name}: ${command.state}${command.result ? ` — ${command.result}` : ""}`;
      result.className = `result ${command.state === "succeeded" ? "ok" : "error"}`;
    } catch (e) {
      result.textContent = `${name} refused: ${e.message}`;
      result.className = "result error";
    }
    loadHistory().catch(() => {});
  }

  if (canAct()) {
    const buttons = [];
    if (RELAY_TYPES.has(device.type) || "relay_state" in device.latest) {
      const on = () => Boolean(device.latest.relay_state && device.latest.relay_state.value);
      buttons.push(h("button", { type: "button", class: "primary", id: "relay-toggle",
        onclick: () => send("relay_toggle", `Switch the relay of ${deviceId} ${on() ? "off" : "on"}?`) }, "Toggle relay"));
      buttons.push(h("button", { type: "button", onclick: () => send("relay_on", `Switch the relay of ${deviceId} on?`) }, "Relay on"));
      buttons.push(h("button", { type: "button", onclick: () => send("relay_off", `Switch the relay of ${deviceId} off?`) }, "Relay off"));
    }
    buttons.push(h("button", { type: "button", onclick: () => send("ping") }, "Ping"));
    mount(commandsBox, h("div", { class: "buttons" }, buttons), h("p", { class: "result muted" }, "Commands are signed and sent; the result shows when the device answers."));
    loadHistory().catch((e) => mount(history, errorBox(e)));
    api(`${path}/config`).then((c) => mount(configBox,
      table("Desired and reported", ["Key", "Desired", "Reported"],
        [...new Set([...Object.keys(c.desired || {}), ...Object.keys(c.reported || {})])].sort().map((k) => [
          k, JSON.stringify((c.desired || {})[k] ?? null), JSON.stringify((c.reported || {})[k] ?? null)]),
        "No configuration set for this device."),
      h("p", { class: "small muted" }, `Desired version ${c.desired_version ?? "—"}, reported version ${c.reported_version ?? "—"}; ${Object.keys(c.delta || {}).length} key(s) still to apply.`)))
      .catch((e) => mount(configBox, errorBox(e)));
  }

  // the newest reading the page was given: the live stream starts after it
  const shownMs = Math.max(...Object.values(device.latest).map((v) => Date.parse(v.ts)).filter(Number.isFinite));
  const since = Number.isFinite(shownMs) ? shownMs : null;
  return openLive({ devices: [deviceId], kinds: ["reading", "status"] }, (event) => {
    if (event.type === "reading") {
      for (const [m, v] of Object.entries(event.metrics)) device.latest[m] = { value: v, ts: event.ts };
      device.last_seen = event.ts;
      drawLatest();
      mount(seen, fmtAgo(device.last_seen));
      const value = event.metrics[state.metric];
      if (state.chart && value !== undefined && appendPoint(state.chart, event.ts_ms / 1000, Number(value))) {
        chartBox.dataset.live = String(Number(chartBox.dataset.live || 0) + 1);
        chartBox.dataset.lastLive = String(value);
      }
    } else if (event.type === "status" && event.state) {
      device.status = event.state;
      mount(statusBadge, badge(event.state));
    }
  }, { since });
}
