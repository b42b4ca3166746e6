// Tariffs (admins): create, edit and delete a tariff with its versions (flat, time of
// use or tiered), through PUT /api/v1/tariffs/{id}; refusals shown beside their field.
import { api } from "../api.js";
import { fmtTime, h, mount, table, toast } from "../dom.js";
import { clearErrors, field, select, showErrors } from "../forms.js";

const PRICINGS = ["flat", "tou", "tiered"];

function numberInput(value, attrs = {}) {
  return h("input", { type: "number", step: "any", min: "0", value: value ?? null, ...attrs });
}

/** One version's fields; ``read()`` gives its body. Ids follow the API's loc: t-versions-0-periods-1-start. */
function versionBlock(index, version, onRemove) {
  const id = (...path) => ["t-versions", index, ...path].join("-");
  const from = h("input", { type: "date", required: true, value: version.effective_from || new Date().toISOString().slice(0, 10) });
  const to = h("input", { type: "date", value: version.effective_to || null });
  const pricing = select(PRICINGS, version.pricing || "flat");
  const price = numberInput(version.price_per_kwh ?? 0);
  const standing = numberInput(version.standing_charge_per_day ?? 0);
  const exportPrice = numberInput(version.export_price_per_kwh ?? 0);
  const rows = h("div", {});
  const periods = [];
  const tiers = [];

  function periodRow(p, i) {
    const row = {
      name: h("input", { type: "text", maxlength: "64", value: p.name || "" }),
      weekdays: h("input", { type: "text", maxlength: "20", value: (p.weekdays || [1, 2, 3, 4, 5, 6, 7]).join(","), inputmode: "numeric" }),
      start: h("input", { type: "time", value: p.start || null }),
      end: h("input", { type: "time", value: p.end || null }),
      price: numberInput(p.price_per_kwh),
    };
    periods.push(row);
    return h("div", { class: "filters" },
      field(id("periods", i, "name"), `Period ${i + 1} name`, row.name),
      field(id("periods", i, "weekdays"), "Weekdays (1 = Monday)", row.weekdays),
      field(id("periods", i, "start"), "From", row.start), field(id("periods", i, "end"), "Until", row.end),
      field(id("periods", i, "price_per_kwh"), "Price per kWh", row.price));
  }

  function tierRow(t, i) {
    const row = { upTo: numberInput(t.up_to_kwh), price: numberInput(t.price_per_kwh) };
    tiers.push(row);
    return h("div", { class: "filters" },
      field(id("tiers", i, "up_to_kwh"), `Tier ${i + 1} up to kWh (empty: no limit)`, row.upTo),
      field(id("tiers", i, "price_per_kwh"), "Price per kWh", row.price));
  }

  const given = { periods: version.periods || [], tiers: version.tiers || [] };
  function drawRows() {
    periods.length = 0;
    tiers.length = 0;
    if (pricing.value === "tou") {
      if (!given.periods.length) given.periods = [{ name: "peak", start: "16:00", end: "19:00" }];
      mount(rows, given.periods.map(periodRow),
        h("button", { type: "button", onclick: () => { given.periods = [...readPeriods(), {}]; drawRows(); } }, "Add period"));
    } else if (pricing.value === "tiered") {
      if (!given.tiers.length) given.tiers = [{ up_to_kwh: 100 }, { up_to_kwh: null }];
      mount(rows, given.tiers.map(tierRow),
        h("button", { type: "button", onclick: () => { given.tiers = [...readTiers(), {}]; drawRows(); } }, "Add tier"));
    } else {
      mount(rows);
    }
  }
  const num = (input) => (input.value === "" ? null : Number(input.value));
  const readPeriods = () => periods.map((r) => ({
    name: r.name.value, start: r.start.value, end: r.end.value, price_per_kwh: num(r.price),
    weekdays: r.weekdays.value.split(",").map((d) => d.trim()).filter(Boolean).map(Number),
  }));
  const readTiers = () => tiers.map((r) => ({ up_to_kwh: num(r.upTo), price_per_kwh: num(r.price) }));
  pricing.addEventListener("change", drawRows);
  drawRows();

  const el = h("fieldset", { class: "version" }, h("legend", {}, `Version ${index + 1}`),
    h("div", { class: "filters" },
      field(id("effective_from"), "Effective from", from), field(id("effective_to"), "Effective to (empty: open)", to),
      field(id("pricing"), "Pricing", pricing), field(id("price_per_kwh"), "Price per kWh", price, "tou: outside every period"),
      field(id("standing_charge_per_day"), "Standing charge per day", standing),
      field(id("export_price_per_kwh"), "Export price per kWh", exportPrice),
      onRemove ? h("button", { type: "button", onclick: onRemove }, "Remove version") : null),
    rows);
  const read = () => ({
    effective_from: from.value, effective_to: to.value || null, pricing: pricing.value,
    price_per_kwh: num(price) ?? 0, standing_charge_per_day: num(standing) ?? 0, export_price_per_kwh: num(exportPrice) ?? 0,
    periods: pricing.value === "tou" ? readPeriods() : [], tiers: pricing.value === "tiered" ? readTiers() : [],
  });
  return { el, read };
}

/** ``onChange`` runs after a tariff is saved or deleted (the assignments name them). */
export async function tariffEditor(box, onChange = async () => {}) {
  const list = h("div", {});
  const tariffId = h("input", { type: "text", maxlength: "64", pattern: "[A-Za-z0-9_.:\\-]+", required: true });
  const name = h("input", { type: "text", maxlength: "200", required: true });
  const tz = h("input", { type: "text", maxlength: "64", value: "Europe/London", required: true });
  const versionsBox = h("div", {});
  const general = h("p", { class: "error", role: "alert", hidden: true });
  const heading = h("h3", {}, "New tariff");
  let versions = [];
  let editing = null;

  function drawVersions(given) {
    versions = given.map((v, i) => versionBlock(i, v, given.length > 1 ? () => drawVersions(readAll().filter((_, j) => j !== i)) : null));
    mount(versionsBox, versions.map((v) => v.el));
  }
  const readAll = () => versions.map((v) => v.read());

  function reset(tariff = null) {
    editing = tariff;
    heading.textContent = tariff ? `Edit tariff ${tariff.tariff_id}` : "New tariff";
    tariffId.value = tariff ? tariff.tariff_id : "";
    tariffId.readOnly = Boolean(tariff);
    name.value = tariff ? tariff.name : "";
    tz.value = tariff ? tariff.tz : "Europe/London";
    drawVersions(tariff ? tariff.versions : [{}]);
    clearErrors(form, general);
  }

  async function save(e) {
    e.preventDefault();
    const id = tariffId.value.trim();
    if (!id) { showErrors(form, general, { detail: "tariff_id: give the tariff an id" }, () => "t-id"); return; }
    try {
      const saved = await api(`/tariffs/${encodeURIComponent(id)}`, { method: "PUT", body: { name: name.value, tz: tz.value, versions: readAll() } });
      toast(`Tariff ${saved.name} saved`, "ok");
      reset();
      await Promise.all([drawList(), onChange()]);
    } catch (err) {
      showErrors(form, general, err, (loc) => (loc[1] === "tariff_id" ? "t-id" : `t-${loc.slice(1).join("-")}`));
    }
  }

  async function remove(t) {
    if (!window.confirm(`Delete the tariff ${t.name}? Costs of devices assigned to it are no longer computed.`)) return;
    try {
      await api(`/tariffs/${encodeURIComponent(t.tariff_id)}`, { method: "DELETE" });
      toast(`Tariff ${t.name} deleted`, "ok");
      if (editing && editing.tariff_id === t.tariff_id) reset();
      await Promise.all([drawList(), onChange()]);
    } catch (err) { toast(err.message, "error"); }
  }

  async function drawList() {
    const body = await api("/tariffs");
    mount(list, table("Tariffs", ["Name", "Id", "Zone", "Versions", "Updated", "Actions"],
      body.tariffs.map((t) => [t.name, h("code", {}, t.tariff_id), t.tz,
        t.versions.map((v) => `${v.pricing} from ${v.effective_from}`).join("; "), fmtTime(t.updated_at),
        h("div", { class: "buttons" },
          h("button", { type: "button", "aria-label": `Edit tariff ${t.name}`, onclick: () => { reset(t); name.focus(); } }, "Edit"),
          h("button", { type: "button", class: "danger", "aria-label": `Delete tariff ${t.name}`, onclick: () => remove(t) }, "Delete"))]),
      "No tariffs yet.", [1, 4]));
  }

  const form = h("form", { class: "rule-form", novalidate: true, onsubmit: save }, heading,
    h("div", { class: "filters" }, field("t-id", "Tariff id", tariffId), field("t-name", "Name", name), field("t-tz", "Time zone", tz)),
    versionsBox, general,
    h("div", { class: "buttons" },
      h("button", { type: "button", onclick: () => drawVersions([...readAll(), {}]) }, "Add version"),
      h("button", { type: "submit", class: "primary" }, "Save tariff"),
      h("button", { type: "button", onclick: () => reset() }, "New tariff")));
  reset();
  mount(box, list, form);
  await drawList();
}
