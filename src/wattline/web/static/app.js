// The dashboard's shell: hash routes, the navigation, who is signed in.
import { api, forget, logout, session, switchTenant } from "./api.js";
import { h, mount, toast } from "./dom.js";

const PAGES = [
  { path: "fleet", label: "Fleet", load: () => import("./pages/fleet.js") },
  { path: "alerts", label: "Alerts", load: () => import("./pages/alerts.js") },
  { path: "energy", label: "Energy", load: () => import("./pages/energy.js") },
  { path: "home", label: "Home", load: () => import("./pages/home.js") },
  { path: "firmware", label: "Firmware", load: () => import("./pages/firmware.js") },
  { path: "quarantine", label: "Quarantine", load: () => import("./pages/quarantine.js") },
  { path: "admin", label: "Admin", load: () => import("./pages/admin.js") },
];
const HIDDEN = {
  device: () => import("./pages/device.js"),
  login: () => import("./pages/login.js"),
};

let me = null;
let leave = null; // the current page's clean-up (closes its WebSocket, timers)

export async function whoAmI(force = false) {
  if (!me || force) me = await api("/auth/me");
  return me;
}

/** The caller's role may act (operator and up); viewers only look. */
export function canAct() {
  return Boolean(me && me.role && me.role !== "viewer");
}

export function isAdmin() {
  return Boolean(me && (me.role === "admin" || me.role === "owner"));
}

function renderNav(current) {
  const nav = document.getElementById("nav");
  nav.hidden = false;
  mount(
    nav,
    h(
      "ul",
      {},
      PAGES.filter((p) => p.path !== "admin" || isAdmin()).map((p) =>
        h("li", {}, h("a", { href: `#/${p.path}`, "aria-current": p.path === current ? "page" : null }, p.label)),
      ),
    ),
  );
  const who = document.getElementById("who");
  who.hidden = false;
  mount(
    who,
    h("span", {}, `${me.display || me.email || me.subject || "signed in"} · ${me.role}`),
    tenantMenu(),
    h("button", { type: "button", class: "link", onclick: signOut }, "Sign out"),
  );
}

/** The tenants the user belongs to, when more than one: choosing one switches the session. */
function tenantMenu() {
  const tenants = (me && me.tenants) || [];
  if (tenants.length < 2) return null;
  return h("select", { id: "tenant", "aria-label": "Tenant", onchange: async (e) => {
    try {
      await switchTenant(e.target.value);
      await whoAmI(true);
      toast(`Now in tenant ${me.tenant_id} as ${me.role}`, "ok");
      if (location.hash === "#/fleet") route(); else location.hash = "#/fleet";
    } catch (err) {
      e.target.value = me.tenant_id;
      toast(err.message, "error");
    }
  } }, tenants.map((t) => h("option", { value: t.tenant_id, selected: t.tenant_id === me.tenant_id }, `${t.tenant_id} (${t.role})`)));
}

async function signOut() {
  await logout().catch(() => forget());
  me = null;
  location.hash = "#/login";
}

async function route() {
  if (leave) leave();
  leave = null;
  const [, name = "fleet", ...rest] = location.hash.split("/");
  const main = document.getElementById("main");
  if (name === "login" || !session()) {
    document.getElementById("nav").hidden = true;
    document.getElementById("who").hidden = true;
    const page = await HIDDEN.login();
    page.render(main);
    return;
  }
  const entry = PAGES.find((p) => p.path === name);
  const loader = entry ? entry.load : HIDDEN[name] || PAGES[0].load;
  // the page's module (and the first requests of a page that exports prefetch) and
  // who-am-I, side by side
  const loading = loader().then((page) => {
    const early = page.prefetch ? page.prefetch() : null;
    if (early) early.catch(() => {}); // a failure is render's to report
    return { page, early };
  });
  try {
    await whoAmI();
  } catch (error) {
    forget();
    location.hash = "#/login";
    return;
  }
  renderNav(entry ? name : name === "device" ? "fleet" : "");
  const { page, early } = await loading;
  mount(main, h("p", { class: "muted" }, "Loading…"));
  leave = (await page.render(main, rest.map(decodeURIComponent), early)) || null;
  document.title = `${main.querySelector("h1")?.textContent || "Wattline"} · Wattline`;
}

window.addEventListener("hashchange", route);
route();
