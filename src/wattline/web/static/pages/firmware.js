// Firmware: artifacts, and campaigns with their wave progress; pause, resume, abort;
// admins start a campaign from an uploaded artifact.
import { api } from "../api.js";
import { isAdmin } from "../app.js";
import { badge, errorBox, fmtTime, h, mount, section, table, toast } from "../dom.js";
import { clearErrors, field, showErrors } from "../forms.js";

export async function render(main) {
  const campaigns = h("div", {});
  const artifacts = h("div", {});
  mount(main, h("h1", {}, "Firmware"), section("Campaigns", campaigns), section("Artifacts", artifacts));

  async function draw() {
    const body = await api("/firmware/campaigns");
    mount(campaigns, body.campaigns.length ? body.campaigns.map(campaign) : h("p", { class: "muted" },
      "No campaigns yet: upload an artifact below, then start one from it."));
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

  // a viewer may not see campaigns (operator and up): the API's refusal, not an uncaught error
  const shown = await draw().then(() => true, (e) => { mount(campaigns, errorBox(e)); return false; });
  // the upload form survives a redraw of the list (it keeps its last refusal in view)
  const upload = isAdmin() ? uploadForm((artifact) => drawArtifacts(artifact.artifact_id)) : null;
  async function drawArtifacts(chosen) {
    const body = await api("/firmware/artifacts");
    mount(artifacts, upload, isAdmin() && body.artifacts.length ? campaignForm(body.artifacts, draw, chosen) : null,
      table("Uploaded firmware", ["Type", "Version", "Size", "SHA-256", "Uploaded"],
        body.artifacts.map((a) => [a.device_type, a.version, fmtSize(a.size_bytes),
          h("code", { title: a.sha256 }, a.sha256.slice(0, 16) + "…"), `${fmtTime(a.created_at)} by ${a.created_by}`]),
        "No artifacts uploaded yet.", [4]));
  }
  drawArtifacts().catch((e) => mount(artifacts, errorBox(e)));
  if (!shown) return null; // no polling of a refusal
  const timer = setInterval(() => draw().catch(() => {}), 5000);
  return () => clearInterval(timer);
}

function fmtSize(bytes) {
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB (${bytes.toLocaleString("en")} B)`;
}

/** Upload a firmware image: the file's bytes as the body of POST /firmware/artifacts,
 * its device type and version in the query; the API's refusals beside their field. */
function uploadForm(onUploaded) {
  const deviceType = h("input", { type: "text", maxlength: "64", pattern: "[A-Za-z0-9_.:\\-]{1,64}", required: true });
  const version = h("input", { type: "text", maxlength: "64", pattern: "[0-9A-Za-z][0-9A-Za-z._+\\-]{0,63}", required: true, placeholder: "2.1.0" });
  const file = h("input", { type: "file", required: true });
  const general = h("p", { class: "error", role: "alert", hidden: true });
  const button = h("button", { type: "submit", class: "primary" }, "Upload");
  // the query's loc is ["query", "version"], the service's ["body", "version"]; an image
  // refused (empty, over the limit) is ["body", "body"]
  const idOf = (loc) => ({ device_type: "f-device_type", version: "f-version", body: "f-file" })[loc[loc.length - 1]] || null;
  const form = h("form", { class: "rule-form", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const image = file.files[0];
    if (!image) {
      showErrors(form, general, { detail: "body: choose the firmware image file" }, idOf);
      return;
    }
    button.disabled = true;
    try {
      const a = await api("/firmware/artifacts", { method: "POST", params: { device_type: deviceType.value.trim(), version: version.value.trim() }, raw: image });
      clearErrors(form, general);
      form.reset();
      toast(`Uploaded ${a.device_type} ${a.version}: ${fmtSize(a.size_bytes)}, SHA-256 ${a.sha256.slice(0, 12)}…`, "ok");
      await onUploaded(a);
    } catch (err) {
      // a duplicate (409) is about the version; the body limit's 413 about the file
      const named = err.status === 409 ? { status: 409, detail: `version: ${err.message}` }
        : err.status === 413 ? { status: 413, detail: "body: the image is over the upload limit" } : err;
      showErrors(form, general, named, idOf);
    } finally {
      button.disabled = false;
    }
  } }, h("h3", {}, "Upload firmware"),
  h("div", { class: "filters" },
    field("f-device_type", "For devices of type", deviceType), field("f-version", "Version", version),
    field("f-file", "Firmware image", file)),
  general, button);
  return form;
}

/** A new campaign from an uploaded artifact: its target, waves and safety limits. */
function campaignForm(artifacts, onStarted, chosen) {
  const numberInput = (value, attrs = {}) => h("input", { type: "number", step: "any", min: "0", value, ...attrs });
  const first = artifacts.find((a) => a.artifact_id === chosen) || artifacts[0];
  const artifact = h("select", {}, artifacts.map((a) => h("option", { value: a.artifact_id, selected: a === first }, `${a.device_type} ${a.version}`)));
  const deviceType = h("input", { type: "text", maxlength: "64", value: first.device_type });
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
