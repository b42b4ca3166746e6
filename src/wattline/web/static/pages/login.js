// Sign in: email and password, and the authenticator's code when the account has one.
import { ApiError, login } from "../api.js";
import { h, mount } from "../dom.js";

export function render(main) {
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const code = h("input", {
    id: "code", name: "code", inputmode: "numeric", autocomplete: "one-time-code",
    maxlength: "32", "aria-describedby": "code-help",
  });
  const form = h(
    "form",
    { class: "card login", novalidate: true },
    h("h1", {}, "Sign in to Wattline"),
    h("label", { for: "email" }, "Email"),
    h("input", { id: "email", name: "email", type: "email", autocomplete: "username", required: true, maxlength: "320" }),
    h("label", { for: "password" }, "Password"),
    h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true, maxlength: "1024" }),
    h("label", { for: "code" }, "Authenticator code"),
    code,
    h("p", { id: "code-help", class: "muted small" }, "Six digits from your app, or a recovery code; leave empty if your account has none."),
    error,
    h("button", { type: "submit", class: "primary" }, "Sign in"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const data = new FormData(form);
    try {
      await login(String(data.get("email")).trim(), String(data.get("password")), String(data.get("code")).trim());
      location.hash = "#/fleet";
    } catch (e) {
      error.hidden = false;
      const needsCode = e instanceof ApiError && /TOTP|code/i.test(e.message);
      error.textContent = needsCode ? `${e.message}: enter the code from your authenticator app.` : e.message;
      (needsCode ? code : form.querySelector("#password")).focus();
    }
  });
  mount(main, form);
  form.querySelector("#email").focus();
}
