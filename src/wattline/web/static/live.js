// One WebSocket to /api/v1/ws per page that wants live events (docs/live.md).
// The token goes in the subprotocol list, never in the URL.
import { session } from "./api.js";

// `since` (epoch ms): the page already shows everything up to that instant, so its
// first subscription asks for what came after it. Without it a reading committed
// while the socket was still opening fell between the page's fetch and its
// subscription and was never shown.
export function openLive(subscription, onEvent, { since = null } = {}) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  let socket = null;
  let closed = false;
  let lastMs = since;
  let retryMs = 1000;

  function connect() {
    const token = (session() || {}).access_token;
    if (!token || closed) return;
    // ?batch=true: each frame is an array of what was waiting, so a page watching a
    // whole fleet handles a frame per committed batch instead of one per reading
    socket = new WebSocket(`${scheme}//${location.host}/api/v1/ws?batch=true`, [
      "wattline",
      `bearer.${token}`,
    ]);
    socket.onopen = () => {
      retryMs = 1000;
      const message = { type: "subscribe", id: "page", ...subscription };
      // what we missed while away: after (not at) the last instant we saw
      if (lastMs !== null) message.since = lastMs;
      socket.send(JSON.stringify(message));
    };
    socket.onmessage = (event) => {
      for (const message of JSON.parse(event.data)) {
        if (message.ts_ms) lastMs = Math.max(lastMs || 0, message.ts_ms);
        onEvent(message);
      }
    };
    socket.onclose = () => {
      if (closed) return;
      setTimeout(connect, retryMs); // a token refreshed meanwhile is picked up here
      retryMs = Math.min(retryMs * 2, 30000);
    };
  }
  connect();
  return () => {
    closed = true;
    if (socket) socket.close(1000);
  };
}
