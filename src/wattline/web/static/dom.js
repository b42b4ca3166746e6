// Building elements node by node: every value from the API is text, never markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A table with a caption; rows are arrays of cells (nodes or text). Columns whose
 * index is in phoneHidden are left out on a phone-width screen. */
export function table(caption, headers, rows, empty = "Nothing to show.", phoneHidden = []) {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  const cls = (i) => (phoneHidden.includes(i) ? "hide-phone" : null);
  // a wide table scrolls sideways: focusable, so the keyboard can scroll it too (axe)
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption },
    h(
      "table",
      {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((name, i) => h("th", { scope: "col", class: cls(i) }, name)))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell, i) => h("td", { class: cls(i) }, cell))))),
    ),
  );
}

export function badge(text, kind = text) {
  return h("span", { class: `badge badge-${String(kind).toLowerCase()}` }, text);
}

export function fmtNumber(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  if (typeof value === "boolean") return value ? "on" : "off";
  const abs = Math.abs(value);
  if (abs >= 10000) return Math.round(value).toLocaleString("en-GB");
  return Number(value).toFixed(abs >= 100 ? 0 : digits);
}

export function fmtAgo(iso) {
  if (!iso) return "never";
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function fmtTime(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString("en-GB", { dateStyle: "short", timeStyle: "medium" });
}

export function fmtDay(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleDateString("en-GB", { weekday: "short", day: "numeric", month: "short", year: "numeric" });
}

export function toast(text, kind = "info") {
  const el = document.getElementById("toast");
  el.textContent = text;
  el.className = `show toast-${kind}`;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (el.className = ""), 5000);
}

/** A section with a heading, for the pages' blocks. */
export function section(title, ...children) {
  return h("section", { class: "card" }, h("h2", {}, title), ...children);
}

export function errorBox(error) {
  return h("p", { class: "error", role: "alert" }, String(error.message || error));
}

// Switches (model/metrics.py BOOLEAN_METRICS) read on/off, whether as booleans (REST) or 0/1.
const SWITCHES = new Set(["relay_state"]);

// The unit a metric's name ends in (model/metrics.py naming: power_w, energy_wh, ...).
const UNITS = [["_wh", "Wh"], ["_va", "VA"], ["_w", "W"], ["_v", "V"], ["_a", "A"], ["_c", "°C"],
  ["_pct", "%"], ["_lux", "lx"], ["_hz", "Hz"], ["_m_s", "m/s"]];

export function unitOf(metric) {
  const found = UNITS.find(([suffix]) => metric.endsWith(suffix));
  return found ? found[1] : "";
}

export function fmtMetric(metric, value, digits = 1) {
  if (SWITCHES.has(metric) || typeof value === "boolean") return value ? "on" : "off";
  const unit = unitOf(metric);
  return unit ? `${fmtNumber(value, digits)} ${unit}` : fmtNumber(value, digits);
}
