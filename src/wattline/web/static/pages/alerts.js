// Alerts: the tenant's alerts with severity and status; acknowledge, clear, comment;
// the rules (admins edit them and preview them: rule_editor.js).
import { api } from "../api.js";
import { canAct, isAdmin } from "../app.js";
import { badge, errorBox, fmtNumber, fmtTime, h, mount, section, table, toast } from "../dom.js";
import { openLive } from "../live.js";
import { ruleEditor, ruleText } from "./rule_editor.js";

export async function render(main) {
  const state = { status: "active" };
  const summary = h("div", { class: "stats" });
  const list = h("div", {});
  const rules = h("div", {});

  async function draw() {
    const [sum, body] = await Promise.all([
      api("/alerts/summary"),
      api("/alerts", { params: { status: state.status, limit: 200 } }),
    ]);
    mount(summary,
      h("div", { class: "stat critical" }, h("span", { class: "stat-label" }, "Active"), h("span", { class: "stat-value" }, String(sum.total_active))),
      Object.entries(sum.active).map(([sev, n]) =>
        h("div", { class: `stat ${sev}` }, h("span", { class: "stat-label" }, sev),
          h("span", { class: "stat-value" }, String(n)),
          h("span", { class: "small" }, `${sum.unacknowledged[sev] || 0} not acknowledged`))));
    mount(list, table(`${body.alerts.length} ${state.status || "any-status"} alerts, newest first`,
      ["Severity", "Alert", "Device", "Value", "Status", "First seen", "Seen", ...(canAct() ? ["Actions"] : [])],
      body.alerts.map((a) => [
        badge(a.severity),
        h("span", {}, h("strong", {}, a.rule_name), h("br"), h("span", { class: "small" }, a.message)),
        h("a", { href: `#/device/${encodeURIComponent(a.device_id)}` }, a.device_id),
        fmtNumber(a.value, 2),
        h("span", {}, badge(a.status), a.acknowledged ? h("span", { class: "small" }, ` acknowledged by ${a.acknowledged_by}`) : null),
        fmtTime(a.first_seen),
        `${a.occurrences}×`,
        ...(canAct() ? [actions(a)] : []),
      ]), "No alerts with this status.", [3, 5, 6]));
  }

  function actions(alert) {
    const act = async (verb, body) => {
      try {
        await api(`/alerts/${encodeURIComponent(alert.alert_id)}/${verb}`, { method: "POST", body });
        toast(`${alert.rule_name} on ${alert.device_id}: ${verb === "comments" ? "comment added" : `${verb}d`}`, "ok");
        await draw();
      } catch (e) {
        toast(e.message, "error");
      }
    };
    const comment = h("input", { type: "text", maxlength: "4000", "aria-label": `Comment on ${alert.rule_name} for ${alert.device_id}`, placeholder: "comment" });
    return h("div", { class: "buttons" },
      alert.acknowledged ? null : h("button", { type: "button", onclick: () => act("acknowledge") , "aria-label": `Acknowledge ${alert.rule_name} on ${alert.device_id}` }, "Acknowledge"),
      alert.status === "active" ? h("button", { type: "button", onclick: () => act("clear"), "aria-label": `Clear ${alert.rule_name} on ${alert.device_id}` }, "Clear") : null,
      h("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); if (comment.value.trim()) act("comments", { text: comment.value.trim() }); } },
        comment, h("button", { type: "submit" }, "Comment")));
  }

  const statusSelect = h("select", { id: "a-status", onchange: (e) => { state.status = e.target.value; draw().catch((err) => mount(list, errorBox(err))); } },
    ["active", "cleared", ""].map((s) => h("option", { value: s, selected: s === state.status }, s || "any")));

  mount(main, h("h1", {}, "Alerts"), summary,
    section("Alerts", h("div", { class: "filters" }, h("div", { class: "field" }, h("label", { for: "a-status" }, "Status"), statusSelect)), list),
    section("Rules", rules));
  await draw();
  if (isAdmin()) {
    ruleEditor(rules).catch((e) => mount(rules, errorBox(e)));
  } else {
    api("/alert-rules").then((body) => {
      mount(rules, table("Alert rules", ["Rule", "Severity", "Condition", "Enabled"],
        body.rules.map((r) => [r.name, badge(r.severity), ruleText(r), r.enabled ? "yes" : "no"]), "No rules yet.", [3]));
    }).catch((e) => mount(rules, errorBox(e)));
  }

  let pending = false;
  return openLive({ kinds: ["alert"] }, () => {
    if (pending) return;
    pending = true;
    setTimeout(() => { pending = false; draw().catch(() => {}); }, 500);
  });
}
