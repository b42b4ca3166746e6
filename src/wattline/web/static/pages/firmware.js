// Firmware: artifacts, and campaigns with their wave progress; pause, resume, abort.
import { api } from "../api.js";
import { isAdmin } from "../app.js";
import { badge, errorBox, fmtTime, h, mount, section, table, toast } from "../dom.js";

export async function render(main) {
  const campaigns = h("div", {});
  const artifacts = h("div", {});
  mount(main, h("h1", {}, "Firmware"), section("Campaigns", campaigns), section("Artifacts", artifacts));

  async function draw() {
    const body = await api("/firmware/campaigns");
    mount(campaigns, body.campaigns.length ? body.campaigns.map(campaign) : h("p", { class: "muted" },
      "No campaigns yet: upload an artifact and start one with POST /api/v1/firmware/campaigns (docs/firmware-and-schedules.md)."));
  }

  function campaign(c) {
    const act = async (verb) => {
      if (verb === "abort" && !window.confirm(`Abort the ${c.version} campaign for ${c.device_type}?`)) return;
      try {
        await api(`/firmware/campaigns/${encodeURIComponent(c.campaign_id)}/${verb}`, { method: "POST" });
        toast(`Campaign ${c.version}: ${verb} done`, "ok");
      } catch (e) {
        toast(e.message, "error");
      }
      draw().catch(() => {});
    };
    const running = c.state === "running";
    const paused = c.state === "paused";
    return h("article", { class: "campaign" },
      h("h3", {}, `${c.device_type} → ${c.version} `, badge(c.state)),
      c.reason ? h("p", { class: "small" }, c.reason) : null,
      h("p", { class: "small muted" }, `Started ${fmtTime(c.created_at)}; wave ${c.wave + 1} of ${c.waves.length}; soak ${c.soak_s} s; stops at ${c.failure_threshold_pct} % failures.`),
      table("Waves", ["Wave", "Share", "Progress", "Succeeded", "In flight", "Pending", "Failed"],
        c.waves.map((w) => {
          const done = w.total ? Math.round((100 * (w.succeeded + w.failed)) / w.total) : 0;
          return [String(w.wave + 1), `${w.cumulative_pct} %`,
            h("div", { class: "bar", role: "progressbar", "aria-valuenow": String(done), "aria-valuemin": "0", "aria-valuemax": "100", "aria-label": `wave ${w.wave + 1}` },
              fill(done)),
            String(w.succeeded), String(w.in_flight), String(w.pending), String(w.failed)];
        })),
      isAdmin() ? h("div", { class: "buttons" },
        running ? h("button", { type: "button", onclick: () => act("pause") }, "Pause") : null,
        paused ? h("button", { type: "button", onclick: () => act("resume") }, "Resume") : null,
        running || paused ? h("button", { type: "button", class: "danger", onclick: () => act("abort") }, "Abort") : null) : null);
  }

  await draw();
  api("/firmware/artifacts").then((body) => mount(artifacts, table("Uploaded firmware", ["Type", "Version", "Size", "SHA-256", "Uploaded"],
    body.artifacts.map((a) => [a.device_type, a.version, `${(a.size_bytes / 1024).toFixed(1)} KiB`, h("code", {}, a.sha256.slice(0, 16) + "…"), `${fmtTime(a.created_at)} by ${a.created_by}`]),
    "No artifacts uploaded yet."))).catch((e) => mount(artifacts, errorBox(e)));
  const timer = setInterval(() => draw().catch(() => {}), 5000);
  return () => clearInterval(timer);
}

// Through the CSSOM: the page's CSP refuses style attributes written as markup.
function fill(pct) {
  const bar = h("span", {});
  bar.style.width = `${Math.min(100, pct)}%`;
  return bar;
}
