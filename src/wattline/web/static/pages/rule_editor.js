// The alert rule editor (admins): create, edit and retire rules, and preview how
// often a rule would have fired over the last 7 days. The API validates; its 422
// errors are shown beside the field they name (docs/alerts.md lists the kinds).
import { api } from "../api.js";
import { badge, fmtTime, h, mount, table, toast } from "../dom.js";
import { clearErrors as clear, field, fieldError, select, showErrors } from "../forms.js";

// Each kind's parameters (api/alert_schemas.py): name, label, input type, and its hint.
const NUMBER = "number";
const KINDS = {
  threshold: [["op", "Above or below", ["above", "below"]], ["limit", "Limit", NUMBER],
    ["hysteresis", "Hysteresis", NUMBER, "how far back past the limit it clears"],
    ["duration_s", "Minimum duration (s)", NUMBER, "held this long first"]],
  range: [["low", "Low", NUMBER], ["high", "High", NUMBER], ["hysteresis", "Hysteresis", NUMBER],
    ["duration_s", "Minimum duration (s)", NUMBER]],
  rate: [["max_per_min", "Max change per minute", NUMBER], ["hysteresis", "Hysteresis", NUMBER],
    ["duration_s", "Minimum duration (s)", NUMBER]],
  stuck: [["minutes", "Unchanged for (min)", NUMBER], ["tolerance", "Tolerance", NUMBER]],
  absence: [["minutes", "No telemetry for (min)", NUMBER]],
  offline: [["duration_s", "Offline for (s)", NUMBER]],
  seq_gap: [["min_missing", "Readings lost, at least", NUMBER], ["clear_after_s", "Clears after quiet (s)", NUMBER]],
  counter_reset: [["tolerance", "Tolerance", NUMBER], ["clear_after_s", "Clears after quiet (s)", NUMBER]],
  energy_jump: [["max_power_w", "Max power (W)", NUMBER], ["clear_after_s", "Clears after quiet (s)", NUMBER]],
  quarantine_spike: [["count", "Quarantined messages", NUMBER], ["window_s", "Within (s)", NUMBER]],
  energy_budget: [["limit_kwh", "kWh per day", NUMBER], ["timezone", "Time zone", "text"]],
};
const METRICLESS = new Set(["absence", "offline", "seq_gap", "quarantine_spike"]);
const SEVERITIES = ["critical", "major", "minor", "warning", "info"];
const SCOPES = ["tenant", "device", "type", "tag"];

/** The rules table and the editor; ``onChange`` redraws the alerts after a save. */
export function ruleEditor(box) {
  const state = { editing: null };
  const name = h("input", { type: "text", maxlength: "200", required: true });
  const severity = select(SEVERITIES, "warning");
  const scope = select(SCOPES, "tenant");
  const scopeValue = h("input", { type: "text", maxlength: "64" });
  const kind = select(Object.keys(KINDS), "threshold");
  const metric = h("input", { type: "text", maxlength: "64", placeholder: "power_w" });
  const enabled = h("input", { type: "checkbox", checked: true });
  const params = h("div", { class: "filters" });
  const general = h("p", { class: "error", role: "alert", hidden: true });
  const preview = h("div", { class: "preview", "aria-live": "polite" });
  const heading = h("h3", {}, "New rule");
  const list = h("div", {});
  const inputs = {}; // param name -> input

  function drawParams(values = {}) {
    for (const key of Object.keys(inputs)) delete inputs[key];
    mount(params, KINDS[kind.value].map(([key, label, type, hint]) => {
      const input = Array.isArray(type) ? select(type, values[key])
        : h("input", { type, step: type === NUMBER ? "any" : null, value: values[key] ?? null, maxlength: type === "text" ? "64" : null });
      inputs[key] = input;
      return field(`r-param-${key}`, label, input, hint);
    }));
    metric.disabled = METRICLESS.has(kind.value);
    scopeValue.disabled = scope.value === "tenant";
  }

  function body() {
    const out = { name: name.value, severity: severity.value, scope: scope.value, kind: kind.value, enabled: enabled.checked, params: {} };
    if (scope.value !== "tenant") out.scope_value = scopeValue.value;
    if (!METRICLESS.has(kind.value) && metric.value) out.metric = metric.value;
    for (const [key, input] of Object.entries(inputs)) {
      if (input.value === "") continue;
      out.params[key] = input.type === NUMBER ? Number(input.value) : input.value;
    }
    return out;
  }

  const clearErrors = () => clear(box, general);

  /** The API's refusal beside the field it names (a 422's ``loc``), else above the buttons. */
  function showError(err) {
    if (err.status === 404 && scope.value === "device") {
      clearErrors();
      if (fieldError(box, "r-scope-value", String(err.detail))) return;
    }
    showErrors(box, general, err, (loc) => {
      const key = loc[loc.length - 1];
      if (loc.includes("params") && inputs[key]) return `r-param-${key}`;
      return { name: "r-name", metric: "r-metric", scope_value: "r-scope-value", severity: "r-severity" }[key];
    });
  }

  function reset(rule = null) {
    state.editing = rule;
    heading.textContent = rule ? `Edit rule ${rule.name}` : "New rule";
    name.value = rule ? rule.name : "";
    severity.value = rule ? rule.severity : "warning";
    scope.value = rule ? rule.scope : "tenant";
    scopeValue.value = rule && rule.scope_value ? rule.scope_value : "";
    kind.value = rule ? rule.kind : "threshold";
    metric.value = rule && rule.metric ? rule.metric : "";
    enabled.checked = rule ? rule.enabled : true;
    drawParams(rule ? rule.params : {});
    clearErrors();
    mount(preview);
  }

  async function save(e) {
    e.preventDefault();
    try {
      const rule = state.editing
        ? await api(`/alert-rules/${encodeURIComponent(state.editing.rule_id)}`, { method: "PUT", body: body() })
        : await api("/alert-rules", { method: "POST", body: body() });
      toast(`Rule ${rule.name} saved (version ${rule.version})`, "ok");
      reset();
      await drawList();
    } catch (err) {
      showError(err);
    }
  }

  async function runPreview() {
    mount(preview, h("p", { class: "muted" }, "Replaying the last 7 days…"));
    try {
      const p = await api("/alert-rules/preview", { method: "POST", body: body() });
      clearErrors();
      const firing = p.devices.filter((d) => d.alerts_opened > 0);
      mount(preview,
        h("p", { class: "preview-summary" }, h("strong", {}, `Would have opened ${p.alerts_opened} alert${p.alerts_opened === 1 ? "" : "s"}`),
          ` on ${firing.length} of ${p.devices_evaluated} device${p.devices_evaluated === 1 ? "" : "s"} over the last 7 days (${p.readings.toLocaleString("en-GB")} readings replayed).`),
        p.truncated ? h("p", { class: "error" }, `Truncated: ${p.devices_in_scope} devices in scope; a preview reads at most ${p.limits.devices} devices and ${p.limits.readings.toLocaleString("en-GB")} readings, so these figures cover part of it.`) : null,
        table("Alerts per device, most first", ["Device", "Alerts", "First opened", "Open now"],
          p.devices.map((d) => [d.device_id, String(d.alerts_opened), d.first_opened_at.slice(0, 3).map(fmtTime).join(", ") || "—", d.open_at_end ? "yes" : "no"]),
          "No device in the rule's scope."));
    } catch (err) {
      mount(preview);
      showError(err);
    }
  }

  async function remove(rule) {
    if (!window.confirm(`Retire the rule ${rule.name}? It stops evaluating; its alerts stay as history.`)) return;
    try {
      await api(`/alert-rules/${encodeURIComponent(rule.rule_id)}`, { method: "DELETE" });
      toast(`Rule ${rule.name} retired`, "ok");
      if (state.editing && state.editing.rule_id === rule.rule_id) reset();
      await drawList();
    } catch (err) {
      toast(err.message, "error");
    }
  }

  async function drawList() {
    const items = (await api("/alert-rules")).rules;
    mount(list, table("Alert rules", ["Rule", "Severity", "Condition", "Enabled", "Actions"],
      items.map((r) => [r.name, badge(r.severity), ruleText(r), r.enabled ? "yes" : "no",
        h("div", { class: "buttons" },
          h("button", { type: "button", "aria-label": `Edit rule ${r.name}`, onclick: () => { reset(r); name.focus(); } }, "Edit"),
          h("button", { type: "button", class: "danger", "aria-label": `Delete rule ${r.name}`, onclick: () => remove(r) }, "Delete"))]),
      "No rules yet.", [2, 3]));
  }

  kind.addEventListener("change", () => drawParams());
  scope.addEventListener("change", () => { scopeValue.disabled = scope.value === "tenant"; });
  const form = h("form", { class: "rule-form", novalidate: true, onsubmit: save }, heading,
    h("div", { class: "filters" },
      field("r-name", "Name", name), field("r-severity", "Severity", severity), field("r-kind", "Kind", kind),
      field("r-metric", "Metric", metric), field("r-scope", "Scope", scope),
      field("r-scope-value", "Device, type or tag", scopeValue),
      h("div", { class: "field" }, h("label", { for: "r-enabled" }, "Enabled"), Object.assign(enabled, { id: "r-enabled" }))),
    params, general,
    h("div", { class: "buttons" },
      h("button", { type: "button", onclick: runPreview }, "Preview last 7 days"),
      h("button", { type: "submit", class: "primary" }, "Save rule"),
      h("button", { type: "button", onclick: () => reset() }, "New rule")),
    preview);
  reset();
  mount(box, list, form);
  return drawList();
}

export function ruleText(rule) {
  const params = Object.entries(rule.params || {}).map(([k, v]) => `${k} ${v}`).join(", ");
  const scope = rule.scope_value ? `${rule.scope} ${rule.scope_value}` : rule.scope;
  return `${rule.kind}${rule.metric ? ` of ${rule.metric}` : ""} (${params}) on ${scope}`;
}
