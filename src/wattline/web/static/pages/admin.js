// Admin: members and roles, API keys, device provisioning, credentials and sharing,
// tariffs (tariff_editor.js) and what they price (tariff_assignments.js), audit.
import { api } from "../api.js";
import { badge, errorBox, fmtTime, h, mount, section, table, toast } from "../dom.js";
import { field, showErrors } from "../forms.js";
import { assignmentEditor } from "./tariff_assignments.js";
import { tariffEditor } from "./tariff_editor.js";

const ROLES = ["viewer", "operator", "admin", "owner"];

function secretBox(title, lines) {
  return h("div", { class: "card secret", role: "alert" }, h("strong", {}, title),
    h("p", { class: "small" }, "Shown this once: Wattline keeps only a hash."),
    lines.map((line) => h("pre", { class: "payload" }, line)));
}

export async function render(main) {
  const users = h("div", {});
  const keys = h("div", {});
  const devices = h("div", {});
  const tariffs = h("div", {});
  const assignments = h("div", {});
  const audit = h("div", {});
  mount(main, h("h1", {}, "Admin"),
    section("Users and roles", users), section("API keys", keys), section("Devices", devices),
    section("Tariffs", tariffs), section("Tariff assignments", assignments), section("Audit log", audit));
  const guard = (box, promise) => promise.catch((e) => mount(box, errorBox(e)));
  const redrawAssignments = guard(assignments, assignmentEditor(assignments));
  const changed = async () => {
    const redraw = await redrawAssignments;
    if (redraw) await guard(assignments, redraw());
  };
  await Promise.all([
    guard(users, drawUsers(users)), guard(keys, drawKeys(keys)), guard(devices, drawDevices(devices)),
    guard(tariffs, tariffEditor(tariffs, changed)), redrawAssignments, guard(audit, drawAudit(audit)),
  ]);
}

async function drawUsers(box) {
  const body = await api("/users");
  const email = h("input", { type: "email", maxlength: "320", required: true });
  const password = h("input", { type: "password", minlength: "12", maxlength: "1024", required: true, autocomplete: "new-password" });
  const role = h("select", {}, ROLES.map((r) => h("option", { value: r }, r)));
  const form = h("form", { class: "filters", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api("/users", { method: "POST", body: { email: email.value, password: password.value, role: role.value } });
      toast(`${email.value} added as ${role.value}`, "ok");
      await drawUsers(box);
    } catch (err) { toast(err.message, "error"); }
  } }, field("u-email", "Email", email), field("u-password", "Password", password), field("u-role", "Role", role),
  h("button", { type: "submit", class: "primary" }, "Add user"));
  mount(box, table("Members of this tenant", ["Email", "Name", "Role"],
    body.members.map((m) => [m.email, m.display_name || "—", roleSelect(m, box)])), form);
}

function roleSelect(member, box) {
  return h("select", { "aria-label": `Role of ${member.email}`, onchange: async (e) => {
    try {
      await api(`/users/${encodeURIComponent(member.user_id)}`, { method: "PATCH", body: { role: e.target.value } });
      toast(`${member.email} is now ${e.target.value}`, "ok");
    } catch (err) { toast(err.message, "error"); await drawUsers(box); }
  } }, ROLES.map((r) => h("option", { value: r, selected: r === member.role }, r)));
}

async function drawKeys(box) {
  const body = await api("/api-keys");
  const name = h("input", { type: "text", maxlength: "200", required: true });
  const role = h("select", {}, ROLES.slice(0, 3).map((r) => h("option", { value: r }, r)));
  const shown = h("div", {});
  const form = h("form", { class: "filters", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const key = await api("/api-keys", { method: "POST", body: { name: name.value, role: role.value } });
      await drawKeys(box);
      box.prepend(secretBox(`API key ${key.name}`, [key.key]));
    } catch (err) { toast(err.message, "error"); }
  } }, field("k-name", "Name", name), field("k-role", "Role", role), h("button", { type: "submit", class: "primary" }, "Create key"));
  mount(box, shown, table("Keys (prefixes only)", ["Name", "Prefix", "Role", "Created", "Last used", "State"],
    body.keys.map((k) => [k.name, h("code", {}, k.prefix), k.role, fmtTime(k.created_at), fmtTime(k.last_used_at),
      k.revoked_at ? badge("revoked", "failed") : h("button", { type: "button", "aria-label": `Revoke key ${k.name}`, onclick: async () => {
        if (!window.confirm(`Revoke the key ${k.name}? Programs using it stop working.`)) return;
        await api(`/api-keys/${encodeURIComponent(k.key_id)}`, { method: "DELETE" }).catch((err) => toast(err.message, "error"));
        await drawKeys(box);
      } }, "Revoke")]), "No API keys."), form);
}

async function drawDevices(box) {
  const page = await api("/devices", { params: { limit: 1000 } });
  const id = h("input", { type: "text", pattern: "[A-Za-z0-9_-]{1,64}", maxlength: "64", required: true });
  const type = h("input", { type: "text", maxlength: "64" });
  const credentials = h("div", {});
  const shares = h("div", {});
  const form = h("form", { class: "filters", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const device = await api("/devices", { method: "POST", body: { device_id: id.value, type: type.value || null, credentials: ["mqtt_password"] } });
      await drawDevices(box);
      box.prepend(secretBox(`Device ${device.device_id}`, device.credentials.map((c) => `${c.kind} ${c.username || ""} ${c.secret}`)));
    } catch (err) { toast(err.message, "error"); }
  } }, field("d-id", "Device id", id), field("d-type", "Type", type), h("button", { type: "submit", class: "primary" }, "Provision"));
  const pick = h("select", { onchange: (e) => { drawCredentials(credentials, e.target.value); drawShares(shares, e.target.value); } },
    h("option", { value: "" }, "choose a device"), page.devices.map((d) => h("option", { value: d.device_id }, d.device_id)));
  mount(box, form, h("h3", {}, "Credentials and sharing"), field("d-pick", "Device", pick), credentials, shares);
}

async function drawCredentials(box, deviceId) {
  if (!deviceId) return mount(box);
  const path = `/devices/${encodeURIComponent(deviceId)}/credentials`;
  const body = await api(path);
  const act = async (credential, verb) => {
    if (!window.confirm(`${verb === "rotate" ? "Rotate" : "Revoke"} this ${credential.kind} of ${deviceId}?`)) return;
    try {
      const out = await api(`${path}/${encodeURIComponent(credential.credential_id)}${verb === "rotate" ? "/rotate" : ""}`,
        { method: verb === "rotate" ? "POST" : "DELETE" });
      await drawCredentials(box, deviceId);
      if (out && out.secret) box.prepend(secretBox(`New ${out.kind} for ${deviceId}`, [`${out.username || ""} ${out.secret}`]));
    } catch (err) { toast(err.message, "error"); }
  };
  mount(box, table(`Credentials of ${deviceId}`, ["Kind", "Username", "Created", "State", ""],
    body.credentials.map((c) => [c.kind, c.username || "—", fmtTime(c.created_at), c.revoked_at ? badge("revoked", "failed") : badge("active", "ok"),
      c.revoked_at ? "" : h("div", { class: "buttons" },
        h("button", { type: "button", onclick: () => act(c, "rotate") }, "Rotate"),
        h("button", { type: "button", class: "danger", onclick: () => act(c, "revoke") }, "Revoke"))]),
    "No credentials: this device connects with the platform's demo or shared account."));
}

/** Who the device is shared with (users of any tenant, by email), share and revoke. */
async function drawShares(box, deviceId) {
  if (!deviceId) return mount(box);
  const path = `/devices/${encodeURIComponent(deviceId)}/shares`;
  const body = await api(path);
  const user = h("input", { type: "email", maxlength: "320", required: true });
  const role = h("select", {}, ["viewer", "operator"].map((r) => h("option", { value: r }, r)));
  const general = h("p", { class: "error", role: "alert", hidden: true });
  const form = h("form", { class: "filters", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api(path, { method: "POST", body: { user: user.value.trim(), role: role.value } });
      toast(`${deviceId} shared with ${user.value.trim()} as ${role.value}`, "ok");
      await drawShares(box, deviceId);
    } catch (err) {
      showErrors(form, general, err, (loc) => ({ user: "s-user", role: "s-role" })[loc[loc.length - 1]]);
    }
  } }, field("s-user", "Share with (email)", user), field("s-role", "Role", role),
  h("button", { type: "submit", class: "primary" }, "Share"), general);
  mount(box, table(`${deviceId} is shared with`, ["User", "Role", "Shared", ""],
    body.shares.map((s) => [s.email, s.role, fmtTime(s.shared_at),
      h("button", { type: "button", class: "danger", "aria-label": `Stop sharing with ${s.email}`, onclick: async () => {
        if (!window.confirm(`Stop sharing ${deviceId} with ${s.email}?`)) return;
        try {
          await api(`${path}/${encodeURIComponent(s.user_id)}`, { method: "DELETE" });
          toast(`${deviceId} no longer shared with ${s.email}`, "ok");
        } catch (err) { toast(err.message, "error"); }
        await drawShares(box, deviceId);
      } }, "Stop sharing")]),
    `${deviceId} is not shared with anyone outside the tenant.`), form);
}

async function drawAudit(box) {
  const body = await api("/audit", { params: { limit: 50 } });
  mount(box, table("Newest 50 changes", ["When", "Who", "Action", "Object", "Summary"],
    body.entries.map((e) => [fmtTime(e.ts), e.actor, h("code", {}, e.action), e.object, h("span", { class: "small" }, JSON.stringify(e.summary))]),
    "No changes recorded yet."));
}
