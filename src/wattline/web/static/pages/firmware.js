// Firmware: artifacts, and campaigns with their wave progress; pause, resume, abort;
// admins start a campaign from an uploaded artifact.
import { api } from "../api.js";
import { isAdmin } from "../app.js";
import { badge, errorBox, fmtTime, h, mount, section, table, toast } from "../dom.js";
import { field, showErrors } from "../forms.js";

export async function render(main) {
  const campaigns = h("div", {});
  const artifacts = h("div", {});
  mount(main, h("h1", {}, "Firmware"), section("Campaigns", campaigns), section("Artifacts", artifacts));

  async function draw() {
    const body = await api("/firmware/campaigns");
    mount(campaigns, body.campaigns.length ? body.campaigns.map(campaign) : h("p", { class: "muted" },
      "No campaigns yet: upload an artifact (POST /api/v1/firmware/artifacts, docs/firmware-and-schedules.md), then start one below."));
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
  api("/firmware/artifacts").then((body) => mount(artifacts, isAdmin() && body.artifacts.length ? campaignForm(body.artifacts, draw) : null, table("Uploaded firmware", ["Type", "Version", "Size", "SHA-256", "Uploaded"],
    body.artifacts.map((a) => [a.device_type, a.version, `${(a.size_bytes / 1024).toFixed(1)} KiB`, h("code", {}, a.sha256.slice(0, 16) + "…"), `${fmtTime(a.created_at)} by ${a.created_by}`]),
    "No artifacts uploaded yet."))).catch((e) => mount(artifacts, errorBox(e)));
  const timer = setInterval(() => draw().catch(() => {}), 5000);
  return () => clearInterval(timer);
}

/** A new campaign from an uploaded artifact: its target, waves and safety limits. */
function campaignForm(artifacts, onStarted) {
  const numberInput = (value, attrs = {}) => h("input", { type: "number", step: "any", min: "0", value, ...attrs });
  const artifact = h("select", {}, artifacts.map((a) => h("option", { value: a.artifact_id }, `${a.device_type} ${a.version}`)));
  const deviceType = h("input", { type: "text", maxlength: "64", value: artifacts[0].device_type });
  artifact.addEventListener("change", () => {
    deviceType.value = artifacts.find((a) => a.artifact_id === artifact.value).device_type;
  });
  const tag = h("input", { type: "text", maxlength: "64" });
  const deviceIds = h("input", { type: "text", maxlength: "4000", placeholder: "plug-1, plug-2" });
  const waves = h("input", { type: "text", maxlength: "60", value: "1, 10, 50, 100" });
  const soak = numberInput("600");
  const threshold = numberInput("10", { max: "100" });
  const timeout = numberInput("1800", { min: "1" });
  const general = h("p", { class: "error", role: "alert", hidden: true });
  const list = (input) => input.value.split(",").map((v) => v.trim()).filter(Boolean);
  const form = h("form", { class: "rule-form", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const target = { device_type: deviceType.value.trim() || null, tag: tag.value.trim() || null, device_ids: list(deviceIds) };
    const body = { artifact_id: artifact.value, target, waves_pct: list(waves).map(Number),
      soak_s: Number(soak.value), failure_threshold_pct: Number(threshold.value), device_timeout_s: Number(timeout.value) };
    try {
      const c = await api("/firmware/campaigns", { method: "POST", body });
      toast(`Campaign ${c.version} for ${c.device_type} started`, "ok");
      await onStarted();
    } catch (err) {
      // the most precise field the loc names: ["body", "target", "device_ids", 0] is c-target-device_ids
      showErrors(form, general, err, (loc) => {
        for (let n = loc.length; n > 1; n -= 1) {
          const id = `c-${loc.slice(1, n).join("-")}`;
          if (form.querySelector(`#${CSS.escape(id)}`)) return id;
        }
        return null;
      });
    }
  } }, h("h3", {}, "Start a campaign"),
  h("div", { class: "filters" },
    field("c-artifact_id", "Artifact", artifact), field("c-target-device_type", "Device type", deviceType),
    field("c-target-tag", "Tag", tag), field("c-target-device_ids", "Device ids (comma-separated)", deviceIds),
    field("c-waves_pct", "Waves, cumulative %", waves, "the last is 100"), field("c-soak_s", "Soak after each wave (s)", soak),
    field("c-failure_threshold_pct", "Pause above failures (%)", threshold), field("c-device_timeout_s", "Device timeout (s)", timeout)),
  general, h("button", { type: "submit", class: "primary" }, "Start campaign"));
  return form;
}

// Through the CSSOM: the page's CSP refuses style attributes written as markup.
function fill(pct) {
  const bar = h("span", {});
  bar.style.width = `${Math.min(100, pct)}%`;
  return bar;
}
