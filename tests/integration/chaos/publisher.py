"""An external publisher for chaos tests: QoS 1, persistent session, every PUBACK accounted for.

It plays a fleet that behaves well: it keeps a persistent session, re-sends
what the broker has not acknowledged when it reconnects (paho does that for
QoS 1), and holds back while it is disconnected. A message counts as
published only once the broker acknowledged it, so "N published" in a test
means N messages the broker took responsibility for.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

# An hour ago, whole seconds: in the past, so no reading trips the future-skew
# rule, and recent, so the collector's retention (raw samples are kept for 7
# days by default, trimmed at every start) leaves the readings alone.
T0_MS = (time.time_ns() // 1_000_000_000 - 3600) * 1000
METRICS = ("power_w", "voltage_v", "energy_wh")


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    payload: bytes
    # (device id, seq) for a valid reading; None for anything else
    reading: tuple[str, int] | None = None


def reading_messages(
    prefix: str, devices: Sequence[str], per_device: int, *, first_seq: int = 0
) -> list[Outgoing]:
    """Round-robin over the devices, one reading each turn, seq and ts rising per device."""
    return [
        reading(prefix, device, seq)
        for seq in range(first_seq, first_seq + per_device)
        for device in devices
    ]


def reading(prefix: str, device: str, seq: int) -> Outgoing:
    body = {
        "seq": seq,
        "ts": T0_MS + seq * 1000,
        "metrics": {name: float(seq * 10 + i) for i, name in enumerate(METRICS)},
    }
    return Outgoing(f"{prefix}/{device}/telemetry", json.dumps(body).encode(), (device, seq))


class ChaosPublisher:
    """Publishes `messages` in order at about `rate_per_s` on its own thread."""

    def __init__(
        self,
        host: str,
        port: int,
        messages: Sequence[Outgoing],
        *,
        rate_per_s: float,
        max_unacked: int = 2000,
        client_id: str | None = None,
        hold_at: int | None = None,
    ) -> None:
        self.messages = list(messages)
        # Publishing pauses before this index until release(): a lull in the
        # fleet's traffic during which a test can break something.
        self._hold_at = hold_at
        self._released = threading.Event()
        self.holding = threading.Event()
        self._rate_per_s = rate_per_s
        # Bounded so packet ids (1..65535) are never reused while still unacknowledged.
        self._max_unacked = max_unacked
        self._acked = [False] * len(self.messages)
        self._acked_count = 0
        self._sent = 0
        # mid -> index of the message it carries, while unacknowledged
        self._outstanding: dict[int, int] = {}
        # PUBACKs arrive on paho's thread, possibly before publish() has returned
        # the mid; they are matched to messages on the publishing thread only.
        self._pubacks: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._early: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.connected = threading.Event()
        self.connects = 0
        self.error: BaseException | None = None
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"chaos-pub-{uuid.uuid4().hex[:12]}",
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        self._client.max_inflight_messages_set(200)
        self._client.max_queued_messages_set(0)
        self._client.reconnect_delay_set(min_delay=1, max_delay=2)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._host, self._port = host, port
        self._thread = threading.Thread(target=self._run, name="chaos-publisher", daemon=True)

    # -- progress, read from the test's thread --------------------------------

    @property
    def sent(self) -> int:
        """Messages handed to paho so far."""
        return self._sent

    @property
    def acked(self) -> int:
        """Messages the broker acknowledged so far."""
        return self._acked_count

    def unacked(self) -> list[Outgoing]:
        with self._lock:
            return [m for m, done in zip(self.messages, self._acked, strict=True) if not done]

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> None:
        self._client.connect_async(self._host, self._port, keepalive=10)
        self._client.loop_start()
        if not self.connected.wait(10):
            raise TimeoutError(f"publisher could not connect to {self._host}:{self._port}")
        self._thread.start()

    def release(self) -> None:
        self._released.set()

    def wait_all_acked(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.error is not None:
                raise self.error
            if not self._thread.is_alive() and self._acked_count == len(self.messages):
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        self._client.disconnect()
        self._client.loop_stop()

    # -- the publishing thread -------------------------------------------------

    def _run(self) -> None:
        try:
            self._publish_all()
            while self._acked_count < len(self.messages) and not self._stop.is_set():
                self._match_pubacks()
                time.sleep(0.01)
        except BaseException as exc:  # surfaced to the test by wait_all_acked
            self.error = exc

    def _publish_all(self) -> None:
        started = time.monotonic()
        for index, message in enumerate(self.messages):
            if index == self._hold_at:
                self.holding.set()
                while not self._released.wait(0.01):
                    self._match_pubacks()
                    if self._stop.is_set():
                        return
                # The schedule resumes from here rather than catching up in a burst.
                started = time.monotonic() - index / self._rate_per_s
            due = started + index / self._rate_per_s
            while not self._stop.is_set():
                self._match_pubacks()
                # Hold back while disconnected or too far ahead of the acknowledgements,
                # as a device with a bounded outbox does.
                ready = self.connected.is_set() and index - self._acked_count < self._max_unacked
                if ready and time.monotonic() >= due:
                    break
                time.sleep(0.002)
            if self._stop.is_set():
                return
            info = self._client.publish(message.topic, message.payload, qos=1)
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                # NO_CONN is fine: paho keeps the message and sends it on reconnect.
                raise RuntimeError(f"publish {index} failed: {mqtt.error_string(info.rc)}")
            self._register(info.mid, index)
            self._sent = index + 1

    def _register(self, mid: int, index: int) -> None:
        self._match_pubacks()
        if mid in self._early:
            self._early.discard(mid)
            self._mark_acked(index)
        else:
            self._outstanding[mid] = index

    def _match_pubacks(self) -> None:
        while True:
            try:
                mid = self._pubacks.get_nowait()
            except queue.Empty:
                return
            index = self._outstanding.pop(mid, None)
            if index is None:
                self._early.add(mid)
            else:
                self._mark_acked(index)

    def _mark_acked(self, index: int) -> None:
        with self._lock:
            if not self._acked[index]:
                self._acked[index] = True
                self._acked_count += 1

    # -- paho callbacks (paho's network thread) -------------------------------

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not reason.is_failure:
            self.connects += 1
            self.connected.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, _reason: Any, _p: Any) -> None:
        self.connected.clear()

    def _on_publish(self, _c: Any, _u: Any, mid: int, _reason: Any, _p: Any) -> None:
        self._pubacks.put(mid)
