// Fleet overview: every device with status, latest key values and open alerts,
// filtered by type, tag, status and a search; counts by status and a health summary.
import { api } from "../api.js";
import { badge, fmtAgo, fmtMetric, h, mount, section, table } from "../dom.js";
import { openLive } from "../live.js";

// The metrics worth a column, in order of preference; a device shows the first two it has.
const KEY_METRICS = ["power_w", "ac_power_w", "energy_wh", "voltage_v", "current_a", "temperature_c", "relay", "light_lux", "humidity_pct"];

async function allDevices() {
  const devices = [];
  let cursor = null;
  do {
    const page = await api("/devices", { params: { limit: 1000, cursor } });
    devices.push(...page.devices);
    cursor = page.next_cursor;
  } while (cursor);
  return devices;
}

async function openAlertsByDevice() {
  const counts = new Map();
  const body = await api("/alerts", { params: { status: "active", limit: 1000 } });
  for (const alert of body.alerts || []) counts.set(alert.device_id, (counts.get(alert.device_id) || 0) + 1);
  return counts;
}

function keyValues(device) {
  const names = KEY_METRICS.filter((m) => m in device.latest);
  const chosen = (names.length ? names : Object.keys(device.latest)).slice(0, 2);
  return chosen.map((m) => fmtMetric(m, device.latest[m].value)).join(" · ") || "—";
}

export async function render(main) {
  const [devices, alerts] = await Promise.all([allDevices(), openAlertsByDevice().catch(() => new Map())]);
  const byId = new Map(devices.map((d) => [d.device_id, d]));
  const types = [...new Set(devices.map((d) => d.type || "unknown"))].sort();
  const tags = [...new Set(devices.flatMap((d) => d.tags))].sort();
  const state = { q: "", type: "", tag: "", status: "" };

  const select = (id, label, options) =>
    h("div", { class: "field" },
      h("label", { for: id }, label),
      h("select", { id, onchange: (e) => { state[id.replace("f-", "")] = e.target.value; draw(); } },
        h("option", { value: "" }, "all"), options.map((o) => h("option", { value: o }, o))));
  const filters = h("form", { class: "filters", role: "search", onsubmit: (e) => e.preventDefault() },
    h("div", { class: "field grow" },
      h("label", { for: "f-q" }, "Search"),
      h("input", { id: "f-q", type: "search", placeholder: "device id, type or tag",
        oninput: (e) => { state.q = e.target.value.trim().toLowerCase(); draw(); } })),
    select("f-type", "Type", types), select("f-tag", "Tag", tags), select("f-status", "Status", ["online", "offline", "unknown"]));

  const summary = h("div", { class: "stats", "aria-live": "polite" });
  const list = h("div", {});

  function matches(d) {
    if (state.type && (d.type || "unknown") !== state.type) return false;
    if (state.tag && !d.tags.includes(state.tag)) return false;
    if (state.status && d.status !== state.status) return false;
    if (state.q) return [d.device_id, d.type || "", ...d.tags].some((s) => s.toLowerCase().includes(state.q));
    return true;
  }

  function draw() {
    const count = (s) => devices.filter((d) => d.status === s).length;
    const openAlerts = [...alerts.values()].reduce((a, b) => a + b, 0);
    const stale = devices.filter((d) => d.status === "online" && !Object.keys(d.latest).length).length;
    const healthy = count("offline") === 0 && openAlerts === 0;
    mount(summary,
      stat("Devices", devices.length), stat("Online", count("online"), "online"),
      stat("Offline", count("offline"), "offline"), stat("Unknown", count("unknown")),
      stat("Open alerts", openAlerts, openAlerts ? "critical" : ""),
      h("div", { class: `stat health ${healthy ? "ok" : "warn"}` },
        h("span", { class: "stat-label" }, "System health"),
        h("span", { class: "stat-value" }, healthy ? "Healthy" : "Needs attention"),
        h("span", { class: "small" }, `${count("offline")} offline, ${openAlerts} open alerts, ${stale} without readings`)));
    const shown = devices.filter(matches);
    mount(list, table(`${shown.length} of ${devices.length} devices`,
      ["Device", "Type", "Status", "Last seen", "Latest", "Alerts"],
      shown.map((d) => [
        h("a", { href: `#/device/${encodeURIComponent(d.device_id)}` }, d.device_id),
        d.type || "unknown",
        badge(d.status),
        h("span", { title: d.last_seen || "", "data-seen": d.device_id }, fmtAgo(d.last_seen)),
        h("span", { "data-latest": d.device_id }, keyValues(d)),
        alerts.get(d.device_id) ? badge(String(alerts.get(d.device_id)), "critical") : "0",
      ]), "No device matches these filters.", [1, 3]));
  }

  mount(main, h("h1", {}, "Fleet"), summary, section("Devices", filters, list));
  draw();

  // Latest values move with the live stream, cell by cell: redrawing the table would
  // take the keyboard focus away. A status change redraws (counts and filters move).
  let pending = false;
  return openLive({ kinds: ["reading", "status"] }, (event) => {
    const device = byId.get(event.device_id);
    if (!device) return;
    const before = device.status;
    if (event.type === "reading") {
      for (const [metric, value] of Object.entries(event.metrics)) device.latest[metric] = { value, ts: event.ts };
      device.last_seen = event.ts;
      device.status = "online";
      const id = CSS.escape(device.device_id);
      const latestCell = list.querySelector(`[data-latest="${id}"]`);
      if (latestCell) latestCell.textContent = keyValues(device);
      const seenCell = list.querySelector(`[data-seen="${id}"]`);
      if (seenCell) seenCell.textContent = fmtAgo(device.last_seen);
    } else if (event.type === "status" && event.state) {
      device.status = event.state;
    }
    if (device.status !== before && !pending) {
      pending = true;
      setTimeout(() => { pending = false; draw(); }, 1000);
    }
  });
}

function stat(label, value, kind = "") {
  return h("div", { class: `stat ${kind}` }, h("span", { class: "stat-label" }, label), h("span", { class: "stat-value" }, String(value)));
}

