"""A client that stops reading is cut off with 4008; the server's memory does not grow."""

from __future__ import annotations

import gc
import json
import socket
import time

import psutil
from prometheus_client import generate_latest
from tests.integration.live.server import LiveServer
from tests.integration.observability.test_prometheus import promtool
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from wattline.live.events import EventKind, LiveEvent
from wattline.storage.sql import SqlStore

BUFFER_MESSAGES = 50
# 100 metrics: about 2.5 kB of JSON per message, 50 MB for all of them
METRICS = {f"metric_{i:03d}": float(i) for i in range(100)}
EVENTS = 20_000


def wait_for(predicate: object, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_a_client_that_never_reads_is_cut_off_and_memory_stays_flat(
    sqlite_store: SqlStore,
) -> None:
    live = LiveServer(sqlite_store, buffer_messages=BUFFER_MESSAGES).start()
    try:
        # A small receive window, so the kernel holds little for the client.
        sock = socket.create_connection(("127.0.0.1", live.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        url = live.ws_url + "/api/v1/ws"
        with connect(
            url,
            sock=sock,
            max_queue=1,
            additional_headers={"Authorization": "Bearer viewer-default"},
        ) as ws:
            ws.send(json.dumps({"type": "subscribe"}))
            assert json.loads(ws.recv(timeout=5))["type"] == "subscribed"
            gc.collect()
            rss_before = psutil.Process().memory_info().rss
            for i in range(EVENTS):  # the client reads none of them
                live.publish(
                    LiveEvent(
                        EventKind.READING, "default", "dev-a", i, {"metrics": METRICS, "seq": i}
                    )
                )
            cut = wait_for(
                lambda: (
                    live.sample(
                        "wattline_live_slow_clients_disconnected_total", transport="websocket"
                    )
                    == 1
                ),
                30,
            )
            assert cut, "the slow client was not cut off"
            assert wait_for(lambda: live.feed is not None and live.feed.pending == 0, 30)
            gc.collect()
            grown_mb = (psutil.Process().memory_info().rss - rss_before) / 1e6
            assert grown_mb < 20, f"{grown_mb:.1f} MB more after {EVENTS} events of 2.5 kB"
            assert live.sample("wattline_live_clients", transport="websocket") == 0
            assert (
                live.sample("wattline_live_messages_dropped_total", reason="slow_client")
                == BUFFER_MESSAGES
            )
            # reading now, the client finds what the kernel held, then the close
            code = None
            try:
                while True:
                    ws.recv(timeout=10)
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
            assert code in {4008, None}, code  # None: the close frame could not be sent in time
        # the live metrics as Prometheus' own linter sees them
        exposition = generate_latest(live.metrics.registry).decode()
        assert "wattline_live_slow_clients_disconnected_total" in exposition
        lint = promtool("check", "metrics", stdin=exposition)
        assert lint.returncode == 0, lint.stdout + lint.stderr
    finally:
        live.stop()
