// Home (HyperVolt): each location's sensors live, the current recommendation with its
// explanation, and the decision log with outcomes.
import { api } from "../api.js";
import { canAct } from "../app.js";
import { badge, errorBox, fmtAgo, fmtMetric, fmtNumber, fmtTime, h, mount, section, table, toast } from "../dom.js";
import { openLive } from "../live.js";

export async function render(main) {
  const sensors = (await api("/devices", { params: { type: "home_sensor", limit: 1000 } })).devices;
  const sensorBox = h("div", { class: "stats" });
  const homesBox = h("div", {});
  const decisionsBox = h("div", {});

  function drawSensors() {
    mount(sensorBox, sensors.length ? sensors.map((s) => h("div", { class: "stat", "data-sensor": s.device_id },
      h("span", { class: "stat-label" }, `${s.device_id} · ${s.status}`),
      Object.entries(s.latest).sort().map(([m, v]) => h("span", {}, h("strong", {}, fmtMetric(m, v.value)), ` ${m}`)),
      h("span", { class: "small" }, fmtAgo(s.last_seen)))) : h("p", { class: "muted" }, "No home sensors in this tenant."));
  }

  async function drawHomes() {
    let homes;
    try {
      homes = await api("/homes");
    } catch (e) {
      mount(homesBox, errorBox(e));
      return;
    }
    if (!homes.length) {
      mount(homesBox, h("p", { class: "muted" }, "No home is set up: PUT /api/v1/homes/{id} names its sources, meter and flexible load (docs/energy.md)."));
      return;
    }
    mount(homesBox, homes.map((home) => h("article", {},
      h("h3", {}, home.home_id),
      table("Sources", ["Source", "Device", "Status", "Latest"], home.sources.map((s) => [
        s.kind, s.device_id || "—", badge(s.status),
        Object.entries(s.latest).map(([m, v]) => `${m} ${fmtNumber(v)}`).join(" · ") || "—"])),
      canAct() ? h("button", { type: "button", class: "primary", onclick: async () => {
        try {
          await api(`/homes/${encodeURIComponent(home.home_id)}/decisions`, { method: "POST" });
          toast("New recommendation made", "ok");
          await drawDecisions();
        } catch (e) { toast(e.message, "error"); }
      } }, "Recommend now") : null)));
  }

  async function drawDecisions() {
    const body = await api("/decisions", { params: { limit: 20 } });
    const current = body.decisions[0];
    mount(decisionsBox,
      current ? h("div", { class: "card recommendation" }, h("h3", {}, `Now: ${current.source}`),
        h("p", {}, current.explanation),
        current.run_from ? h("p", { class: "small" }, `Flexible load: ${fmtTime(current.run_from)} – ${fmtTime(current.run_to)}`) : null) : null,
      table("Decision log", ["Decided", "Home", "Source", "Window", "Expected saving", "Outcome"],
        body.decisions.map((d) => [fmtTime(d.decided), d.home_id, d.source,
          d.run_from ? `${fmtTime(d.run_from)} – ${fmtTime(d.run_to)}` : "—",
          Object.entries(d.expected).map(([k, v]) => `${k} ${fmtNumber(v, 2)}`).join(", ") || "—",
          d.outcome ? `${fmtNumber(d.outcome.cost_saved, 2)} saved, ${fmtNumber(d.outcome.co2_saved_g, 0)} g CO₂` : "waiting"]),
        "No decisions yet."));
  }

  mount(main, h("h1", {}, "Home"), section("Sensors (live)", sensorBox), section("Homes", homesBox), section("Recommendation", decisionsBox));
  drawSensors();
  await Promise.all([drawHomes(), drawDecisions().catch((e) => mount(decisionsBox, errorBox(e)))]);
  const byId = new Map(sensors.map((s) => [s.device_id, s]));
  return openLive({ types: ["home_sensor"], kinds: ["reading"] }, (event) => {
    const sensor = byId.get(event.device_id);
    if (!sensor || event.type !== "reading") return;
    for (const [m, v] of Object.entries(event.metrics)) sensor.latest[m] = { value: v, ts: event.ts };
    sensor.last_seen = event.ts;
    sensor.status = "online";
    drawSensors();
  });
}
