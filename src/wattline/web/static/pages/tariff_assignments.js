// Tariff assignments: which tariff prices a device, a tag or the whole tenant
// (GET/PUT/DELETE /api/v1/tariff-assignments). Every member sees the list; admins
// assign and remove; refusals show beside their field.
import { api } from "../api.js";
import { isAdmin } from "../app.js";
import { h, mount, table, toast } from "../dom.js";
import { clearErrors, field, select, showErrors } from "../forms.js";

const KINDS = ["device", "tag", "tenant"];

/** The list and, for admins, the form; returns a redraw for when the tariffs change. */
export async function assignmentEditor(box) {
  const list = h("div", {});
  const form = h("div", {});
  mount(box, list, form);

  async function draw() {
    const [assigned, tariffs, devices] = await Promise.all([
      api("/tariff-assignments"),
      api("/tariffs"),
      isAdmin() ? api("/devices", { params: { limit: 1000 } }) : null,
    ]);
    const names = new Map(tariffs.tariffs.map((t) => [t.tariff_id, t.name]));
    const label = (a) => (a.target_kind === "tenant" ? "the whole tenant" : `${a.target_kind} ${a.target}`);
    mount(list, table("Tariff assignments", ["Applies to", "Tariff", "Direction", ...(isAdmin() ? [""] : [])],
      assigned.assignments.map((a) => [label(a), `${names.get(a.tariff_id) || a.tariff_id} (${a.tariff_id})`, a.direction,
        ...(isAdmin() ? [h("button", { type: "button", class: "danger", "aria-label": `Remove the tariff of ${label(a)}`, onclick: () => remove(a, label(a)) }, "Remove")] : [])]),
      "No tariff is assigned: costs are not computed until one is."));
    if (isAdmin()) mount(form, assignForm(tariffs.tariffs, devices.devices, draw));
  }

  async function remove(a, label) {
    if (!window.confirm(`Remove the tariff of ${label}?`)) return;
    try {
      await api("/tariff-assignments", { method: "DELETE", params: { target_kind: a.target_kind, target: a.target } });
      toast(`${label}: tariff removed`, "ok");
    } catch (err) { toast(err.message, "error"); }
    await draw();
  }

  await draw();
  return draw;
}

function assignForm(tariffs, devices, onSaved) {
  const kind = select(KINDS, "device");
  const target = h("input", { type: "text", maxlength: "64", list: "a-devices", autocomplete: "off" });
  const known = h("datalist", { id: "a-devices" }, devices.map((d) => h("option", { value: d.device_id })));
  const tariff = h("select", {}, tariffs.map((t) => h("option", { value: t.tariff_id }, `${t.name} (${t.tariff_id})`)));
  const direction = select(["import", "export"], "import");
  const general = h("p", { class: "error", role: "alert", hidden: true });
  // the tenant has no target: the field is off, and the API's rule is the same
  const sync = () => {
    target.disabled = kind.value === "tenant";
    if (target.disabled) target.value = "";
    if (kind.value === "device") target.setAttribute("list", "a-devices"); else target.removeAttribute("list");
  };
  kind.addEventListener("change", sync);
  sync();
  const idOf = (loc) => ({ target_kind: "a-target_kind", target: "a-target", tariff_id: "a-tariff_id", direction: "a-direction" })[loc[loc.length - 1]] || null;
  const form = h("form", { class: "rule-form", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const body = { target_kind: kind.value, target: target.value.trim(), tariff_id: tariff.value, direction: direction.value };
    try {
      await api("/tariff-assignments", { method: "PUT", body });
      clearErrors(form, general);
      toast(`Tariff ${body.tariff_id} assigned to ${body.target_kind} ${body.target}`.trim(), "ok");
      await onSaved();
    } catch (err) {
      // a 404 names the tariff or the device; the device is the target field
      const named = err.status === 404 ? { status: 404, detail: `${/^no tariff/.test(err.message) ? "tariff_id" : "target"}: ${err.message}` } : err;
      showErrors(form, general, named, idOf);
    }
  } }, h("h3", {}, "Assign a tariff"),
  tariffs.length ? null : h("p", { class: "muted" }, "Create a tariff above first."),
  h("div", { class: "filters" },
    field("a-target_kind", "Applies to", kind), field("a-target", "Device id or tag", target), known,
    field("a-tariff_id", "Tariff", tariff), field("a-direction", "Direction", direction, "export: energy fed in (a PV inverter)")),
  general, h("button", { type: "submit", class: "primary", disabled: !tariffs.length }, "Assign tariff"));
  return form;
}
