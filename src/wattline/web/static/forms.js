// Form fields with a place for the API's refusal beside them: a 422's ``loc`` names
// the field (``["body", "versions", 0, "price_per_kwh"]``), the error shows under it.
import { h } from "./dom.js";

export function field(id, label, input, hint) {
  input.id = id;
  const error = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
  return h("div", { class: "field", "data-field": id }, h("label", { for: id }, label), input,
    hint ? h("span", { class: "small muted" }, hint) : null, error);
}

export function select(options, value) {
  return h("select", {}, options.map((o) => h("option", { value: o, selected: o === value }, o)));
}

export function clearErrors(box, general) {
  if (general) { general.hidden = true; general.textContent = ""; }
  for (const el of box.querySelectorAll(".field-error")) { el.hidden = true; el.textContent = ""; }
  for (const el of box.querySelectorAll("[aria-invalid]")) { el.removeAttribute("aria-invalid"); el.removeAttribute("aria-describedby"); }
}

/** Marks the field ``id`` inside ``box`` with ``message``; false when there is no such field. */
export function fieldError(box, id, message) {
  const input = id ? box.querySelector(`#${CSS.escape(id)}`) : null;
  const error = id ? box.querySelector(`#${CSS.escape(`${id}-error`)}`) : null;
  if (!input || !error) return false;
  error.textContent = error.textContent ? `${error.textContent}; ${message}` : message;
  error.hidden = false;
  input.setAttribute("aria-invalid", "true");
  input.setAttribute("aria-describedby", `${id}-error`);
  return true;
}

/** The API's refusal beside the fields it names (``idOf(loc)`` gives a field's id),
 * the rest in ``general``. A string detail "field: message" names its field too. */
export function showErrors(box, general, err, idOf) {
  clearErrors(box, general);
  const rest = [];
  const items = err.status === 422 && Array.isArray(err.detail) ? err.detail : null;
  if (items) {
    for (const item of items) {
      const message = String(item.msg || "").replace(/^Value error, /, "");
      if (!fieldError(box, idOf(item.loc || []), message)) rest.push(message);
    }
  } else {
    const text = String(typeof err.detail === "string" ? err.detail : err.message);
    const named = /^([a-z_][\w.[\]]*): (.*)$/.exec(text);
    if (!(named && fieldError(box, idOf(["body", ...named[1].split(".")]), named[2]))) rest.push(text);
  }
  if (rest.length) { general.textContent = rest.join("; "); general.hidden = false; }
}
