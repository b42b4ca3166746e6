// Fleet overview: counts by status and a health summary (GET /device-summary), then the
// devices a page at a time (GET /devices, 50 rows, by cursor) with their status, latest
// key values and open alerts; filters by type, tag and status and a search, all answered
// by the API. The first render waits for the summary and the first page only: drawing
// every row of 1,000 devices took seconds (docs/benchmarks.md).
import { api } from "../api.js";
import { badge, fmtAgo, fmtMetric, h, mount, table } from "../dom.js";
import { openLive } from "../live.js";

// Rows on a page: a screenful or two, drawn in a few milliseconds.
export const PAGE_ROWS = 50;
// The API's search alphabet (device ids, types and tags): anything else matches nothing.
const SEARCHABLE = /^[A-Za-z0-9_.:-]{1,64}$/;
// Typing waits this long after the last key before asking the API.
const SEARCH_DELAY_MS = 250;
// The metrics worth a column, in order of preference; a device shows the first two it has.
const KEY_METRICS = ["power_w", "ac_power_w", "energy_wh", "voltage_v", "current_a", "temperature_c", "relay", "light_lux", "humidity_pct"];

function keyValues(device) {
  const names = KEY_METRICS.filter((m) => m in device.latest);
  const chosen = (names.length ? names : Object.keys(device.latest)).slice(0, 2);
  return chosen.map((m) => fmtMetric(m, device.latest[m].value)).join(" · ") || "—";
}

async function openAlertsByDevice() {
  const counts = new Map();
  const body = await api("/alerts", { params: { status: "active", limit: 1000 } });
  for (const alert of body.alerts || []) counts.set(alert.device_id, (counts.get(alert.device_id) || 0) + 1);
  return counts;
}

/** The first render's requests, sent while the shell asks who is signed in. */
export function prefetch() {
  return Promise.all([
    api("/device-summary"), api("/devices", { params: { limit: PAGE_ROWS } }),
    api("/alerts/summary").catch(() => null),
  ]);
}

export async function render(main, _args = [], early = null) {
  const state = { search: "", type: "", tag: "", status: "", cursors: [null], page: 0, devices: [] };
  let alerts = null; // device id -> open alerts, once loaded (after the first render)
  let generation = 0; // a newer query wins over an older answer still on its way

  const query = () => ({ limit: PAGE_ROWS, cursor: state.cursors[state.page], type: state.type,
    tag: state.tag, status: state.status, search: state.search });
  const filtered = () => Boolean(state.search || state.type || state.tag || state.status);

  const [summaryBody, firstPage, alertSummary] = await (early || prefetch());
  let summary = summaryBody;

  const summaryBox = h("div", { class: "stats", "aria-live": "polite" });
  const list = h("div", {});
  const pager = h("nav", { class: "buttons pager", "aria-label": "Device pages" });

  const select = (id, label, options) =>
    h("div", { class: "field" },
      h("label", { for: id }, label),
      h("select", { id, onchange: (e) => { state[id.replace("f-", "")] = e.target.value; restart(); } },
        h("option", { value: "" }, "all"), options.map((o) => h("option", { value: o }, o))));
  let typing = null;
  const filters = h("form", { class: "filters", role: "search", onsubmit: (e) => e.preventDefault() },
    h("div", { class: "field grow" },
      h("label", { for: "f-search" }, "Search"),
      h("input", { id: "f-search", type: "search", maxlength: "64", placeholder: "device id, type or tag",
        oninput: (e) => {
          clearTimeout(typing);
          typing = setTimeout(() => { state.search = e.target.value.trim(); restart(); }, SEARCH_DELAY_MS);
        } })),
    select("f-type", "Type", summary.types), select("f-tag", "Tag", summary.tags),
    select("f-status", "Status", ["online", "offline", "unknown"]));

  function drawSummary() {
    const count = (s) => summary.by_status[s] || 0;
    const openAlerts = alertSummary ? alertSummary.total_active : 0;
    const healthy = count("offline") === 0 && openAlerts === 0;
    mount(summaryBox,
      stat("Devices", summary.total), stat("Online", count("online"), "online"),
      stat("Offline", count("offline"), "offline"), stat("Unknown", count("unknown")),
      stat("Open alerts", openAlerts, openAlerts ? "critical" : ""),
      h("div", { class: `stat health ${healthy ? "ok" : "warn"}` },
        h("span", { class: "stat-label" }, "System health"),
        h("span", { class: "stat-value" }, healthy ? "Healthy" : "Needs attention"),
        h("span", { class: "small" }, `${count("offline")} offline, ${openAlerts} open alerts, ${summary.without_readings} without readings`)));
  }

  function alertCell(d) {
    if (!alerts) return h("span", { "data-alerts": d.device_id }, "…");
    const n = alerts.get(d.device_id) || 0;
    return h("span", { "data-alerts": d.device_id }, n ? badge(String(n), "critical") : "0");
  }

  function drawPage(body) {
    state.devices = body.devices;
    state.next = body.next_cursor;
    const first = state.page * PAGE_ROWS + 1;
    const last = state.page * PAGE_ROWS + body.devices.length;
    const caption = `Devices ${first}–${last} ${filtered() ? "matching the filters" : `of ${summary.total.toLocaleString("en-GB")}`}`;
    mount(list, table(caption,
      ["Device", "Type", "Status", "Last seen", "Latest", "Alerts"],
      body.devices.map((d) => [
        h("a", { href: `#/device/${encodeURIComponent(d.device_id)}` }, d.device_id),
        d.type || "unknown",
        badge(d.status),
        h("span", { title: d.last_seen || "", "data-seen": d.device_id }, fmtAgo(d.last_seen)),
        h("span", { "data-latest": d.device_id }, keyValues(d)),
        alertCell(d),
      ]), "No device matches these filters.", [1, 3]));
    if (state.page === 0 && !state.next) return mount(pager); // one page: nothing to turn
    mount(pager,
      h("button", { type: "button", disabled: state.page === 0, onclick: () => turn(-1) }, "Previous page"),
      h("span", { class: "small muted" }, `Page ${state.page + 1}`),
      h("button", { type: "button", disabled: !state.next, onclick: () => turn(1) }, "Next page"));
  }

  async function load() {
    const mine = ++generation;
    if (state.search && !SEARCHABLE.test(state.search)) {
      drawPage({ devices: [], next_cursor: null });
      return;
    }
    const body = await api("/devices", { params: query() });
    if (mine === generation) drawPage(body);
  }

  function restart() {
    state.cursors = [null];
    state.page = 0;
    load().catch((e) => mount(list, h("p", { class: "error", role: "alert" }, e.message)));
  }

  function turn(step) {
    if (step > 0) state.cursors[state.page + 1] = state.next;
    state.page += step;
    load().catch((e) => mount(list, h("p", { class: "error", role: "alert" }, e.message)));
  }

  mount(main, h("h1", {}, "Fleet"), summaryBox, h("section", { class: "card" }, h("h2", {}, "Devices"), filters, list, pager));
  drawSummary();
  drawPage(firstPage);

  // After the first render: the open alerts of each device, filled into the rows.
  openAlertsByDevice().then((counts) => {
    alerts = counts;
    for (const cell of list.querySelectorAll("[data-alerts]")) {
      const n = counts.get(cell.dataset.alerts) || 0;
      mount(cell, n ? badge(String(n), "critical") : "0");
    }
  }).catch(() => { alerts = new Map(); });

  // Latest values move with the live stream, cell by cell: redrawing the table would
  // take the keyboard focus away. A status change refreshes the counts and the page,
  // at most once every few seconds however many devices change.
  const REFRESH_MS = 3000;
  let pending = false;
  return openLive({ kinds: ["reading", "status"] }, (event) => {
    const device = state.devices.find((d) => d.device_id === event.device_id);
    const before = device ? device.status : null;
    if (device && event.type === "reading") {
      for (const [metric, value] of Object.entries(event.metrics)) device.latest[metric] = { value, ts: event.ts };
      device.last_seen = event.ts;
      device.status = "online";
      const id = CSS.escape(device.device_id);
      const latestCell = list.querySelector(`[data-latest="${id}"]`);
      if (latestCell) latestCell.textContent = keyValues(device);
      const seenCell = list.querySelector(`[data-seen="${id}"]`);
      if (seenCell) seenCell.textContent = fmtAgo(device.last_seen);
    }
    if (device && event.type === "status" && event.state) device.status = event.state;
    const moved = device ? device.status !== before : event.type === "status";
    if (moved && !pending) {
      pending = true;
      setTimeout(async () => {
        pending = false;
        try {
          summary = await api("/device-summary");
          drawSummary();
          await load();
        } catch { /* the next event tries again */ }
      }, REFRESH_MS);
    }
  });
}

function stat(label, value, kind = "") {
  return h("div", { class: `stat ${kind}` }, h("span", { class: "stat-label" }, label), h("span", { class: "stat-value" }, String(value)));
}
