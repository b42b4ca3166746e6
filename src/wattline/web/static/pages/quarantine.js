// Quarantine: rejected messages with the reason, a preview of the payload, and replay.
import { api } from "../api.js";
import { badge, fmtTime, h, mount, section, table, toast } from "../dom.js";

export async function render(main) {
  const list = h("div", {});
  const state = { reason: "" };

  async function draw() {
    const body = await api("/quarantine", { params: { limit: 100, reason: state.reason } });
    mount(list, table(`${body.items.length} newest rejected messages`, ["Received", "Topic", "Reason", "Payload", "Times", ""],
      body.items.map((q) => [
        fmtTime(q.received_at), h("code", {}, q.topic),
        h("span", {}, badge(q.reason, "warning"), h("br"), h("span", { class: "small" }, q.detail)),
        h("pre", { class: "payload" }, q.payload_preview + (q.payload_size > 256 ? ` … (${q.payload_size} bytes)` : "")),
        String(q.occurrences),
        h("button", { type: "button", "aria-label": `Replay message ${q.id}`, onclick: () => replay({ ids: [q.id] }) }, "Replay"),
      ]), "Nothing in quarantine: every message was accepted."));
  }

  async function replay(body) {
    try {
      const out = await api("/quarantine/replay", { method: "POST", body });
      const still = Object.values(out.still_rejected);
      toast(`${out.accepted.length} accepted, ${still.length} still rejected${still.length ? `: ${still[0]}` : ""}`, out.accepted.length ? "ok" : "error");
    } catch (e) {
      toast(e.message, "error");
    }
    await draw();
  }

  const reasons = h("select", { id: "q-reason", onchange: (e) => { state.reason = e.target.value; draw(); } },
    h("option", { value: "" }, "any"),
    // model/messages.py RejectReason
    ["too_large", "undecodable", "bad_topic", "bad_device_id", "bad_shape", "bad_metric_name", "bad_value",
      "bad_timestamp", "future_timestamp", "bad_seq", "unknown_device", "unknown_topic", "adapter_failed", "store_rejected"].map((r) => h("option", { value: r }, r)));
  mount(main, h("h1", {}, "Quarantine"),
    section("Rejected messages",
      h("div", { class: "filters" },
        h("div", { class: "field" }, h("label", { for: "q-reason" }, "Reason"), reasons),
        h("button", { type: "button", onclick: () => replay({ all: true, limit: 100 }) }, "Replay the newest 100")),
      list));
  await draw();
}
