"""The MQTT 5 source: a gmqtt session in a receiver process, acknowledged after commit.

The receiver (``receiver.py``) parses PUBLISH packets and writes PUBACKs on
a core of its own; this side reads its frames on a thread, hands each message
to the collector and passes the keys of committed messages back. It is used
for every MQTT 5 session; MQTT 3.1.1 (the embedded broker) stays on paho,
because gmqtt acknowledges 3.1.1 messages on receipt.

If the receiver dies, its unacknowledged messages are redelivered by the broker
to the next receiver, which this side starts after a second; acknowledgements
for the dead one's messages are dropped (``Delivery.generation`` names the
receiver process; the receiver itself drops keys from an earlier connection).
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import IO, cast

from wattline.ingest.sources import frames
from wattline.ingest.sources.base import (
    DeliverFn,
    DeliverManyFn,
    Delivery,
    MqttEndpoint,
    SessionOptions,
)
from wattline.model.messages import InboundMessage

log = logging.getLogger("wattline.ingest.mqtt")

_RESTART_DELAY_S = 1.0
_STOP_TIMEOUT_S = 10.0
# Frames are read from a buffer this large, so one read takes all the pipe holds
# (64 KB on Linux), not 8 KB at a time: each read leaves the GIL, and this thread
# may wait up to a switch interval to get it back beside a busy event loop.
_PIPE_BUFFER_BYTES = 1 << 18


class GmqttSource:
    def __init__(  # noqa: PLR0913 - each argument is a separate concern
        self,
        endpoint: MqttEndpoint,
        client_id: str,
        topics: Sequence[str],
        deliver: DeliverFn,
        *,
        options: SessionOptions,
        deliver_many: DeliverManyFn | None = None,
        python: str = sys.executable,
    ) -> None:
        """``deliver_many``, when given, takes each frame's messages in one call
        (``deliver`` then goes unused)."""
        self._config = {
            "host": endpoint.host,
            "port": endpoint.port,
            "username": endpoint.username,
            "password": endpoint.password,
            "client_id": client_id,
            "topics": [options.subscription(topic) for topic in topics],
            "session_expiry_s": options.session_expiry_s,
            "receive_maximum": options.receive_maximum,
        }
        self._endpoint = endpoint
        self._deliver = deliver
        self._deliver_many = deliver_many
        self._python = python
        self.connected = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        # Counts receiver processes: keys are numbered per receiver, so a
        # delivery is ackable only by the one it came from.
        self._generation = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._run, name="wattline-mqtt", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Let the receiver write the PUBACKs already due, then disconnect it."""
        self._stopping.set()
        with self._lock:
            process = self._process
            if process is not None and process.poll() is None:
                self._send(process, (frames.STOP,))
        self._thread.join(_STOP_TIMEOUT_S)
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def ack(self, deliveries: Sequence[Delivery]) -> int:
        """Tell the receiver which messages are committed; return how many were ackable."""
        with self._lock:
            generation = self._generation
            keys = [d.mid for d in deliveries if d.qos > 0 and d.generation == generation]
            process = self._process
            if keys and process is not None:
                self._send(process, (frames.ACK, keys))
        return len(keys)

    def _send(self, process: subprocess.Popen[bytes], frame: frames.Frame) -> None:
        # If the receiver is gone, its messages were never acknowledged and come
        # back through the next one.
        with contextlib.suppress(OSError, ValueError):
            frames.write(cast("IO[bytes]", process.stdin), frame)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._serve(self._spawn())
            self.connected.clear()
            if not self._stopping.wait(_RESTART_DELAY_S):
                log.warning("MQTT receiver for %s exited; starting another", self._endpoint)

    def _spawn(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(  # noqa: S603 - our own module, no shell
            [self._python, "-m", "wattline.ingest.sources.receiver"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=_PIPE_BUFFER_BYTES,
        )
        self._send(process, (frames.CONFIG, self._config))
        with self._lock:
            self._process = process
        self._new_generation()
        return process

    def _serve(self, process: subprocess.Popen[bytes]) -> None:
        out = cast("IO[bytes]", process.stdout)
        while (frame := frames.read(out)) is not None:
            kind = frame[0]
            if kind == frames.MESSAGES:
                generation = self._generation
                delivered = [
                    (
                        InboundMessage(topic, payload, received_ms, content_type),
                        Delivery(mid=key, qos=1 if key else 0, generation=generation),
                    )
                    for key, topic, payload, received_ms, content_type in frame[1]
                ]
                if self._deliver_many is not None:
                    self._deliver_many(delivered)
                else:
                    for message, delivery in delivered:
                        self._deliver(message, delivery)
            elif kind == frames.CONNECTED:
                self.connected.set()
                log.info("collector connected to %s", self._endpoint)
            elif kind == frames.DISCONNECTED:
                self.connected.clear()
                if not self._stopping.is_set():
                    log.warning("collector lost %s; reconnecting", self._endpoint)
        # Whatever this receiver delivered can no longer be acknowledged.
        self._new_generation()
        process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()

    def _new_generation(self) -> None:
        with self._lock:
            self._generation += 1
