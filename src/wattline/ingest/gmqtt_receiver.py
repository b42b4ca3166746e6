"""The MQTT 5 receiver: a child process that holds the gmqtt session for the collector.

gmqtt with ``optimistic_acknowledgement=False`` sends a message's PUBACK when
its async handler returns. Each handler here parks on a future; the parent
settles it, by the message's key, once the batch holding the message is
committed. Anything not settled is never acknowledged, so the broker
redelivers it to the next session.

Running the client in its own process gives MQTT parsing and acknowledging a
core of their own instead of a share of the collector's GIL (docs/benchmarks.md
has the measurements). The parent speaks to it through stdin and stdout in
length-prefixed pickle frames (see ``frames``); if either side dies, the other
sees end-of-file: the parent restarts the receiver, and an orphaned receiver
exits without acknowledging anything.

    python -m wattline.ingest.gmqtt_receiver   # frames on stdin/stdout, config first
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import IO, Any

import gmqtt  # type: ignore[import-untyped]
from gmqtt.mqtt.constants import UNLIMITED_RECONNECTS, MQTTv50  # type: ignore[import-untyped]

from wattline.ingest import frames

log = logging.getLogger("wattline.ingest.mqtt")

_PUBACK_SUCCESS = 0
# Records per frame to the parent: big enough to amortise the write, small
# enough that the parent starts planning early.
_RECORDS_PER_FRAME = 500


class _NotCommittedError(Exception):
    """Ends a handler without a PUBACK: the broker redelivers the message later."""


class Receiver:
    def __init__(self, config: dict[str, Any], out: IO[bytes]) -> None:
        self._config = config
        self._out = out
        self._topics: list[str] = config["topics"]
        self._generation = 0
        self._waiting: dict[int, asyncio.Future[int]] = {}
        self._ids = itertools.count(1)
        self._outbox: list[frames.Record] = []
        self._flush_scheduled = False
        self._stop = asyncio.Event()

    async def run(self, commands: asyncio.StreamReader) -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_quiet_about_uncommitted)
        client = self._client()
        listener = asyncio.create_task(self._listen(commands))
        try:
            if await self._connect(client):
                await self._stop.wait()
        finally:
            listener.cancel()
            # Settled handlers resume one turn later; their PUBACK is written in
            # gmqtt's done-callback the turn after that.
            for _ in range(3):
                await asyncio.sleep(0)
            self._fail_waiting()
            with contextlib.suppress(Exception):
                await client.disconnect()

    def _client(self) -> Any:
        config = self._config
        client = gmqtt.Client(
            config["client_id"],
            clean_session=False,
            optimistic_acknowledgement=False,
            session_expiry_interval=config["session_expiry_s"],
            receive_maximum=config["receive_maximum"],
        )
        client.set_config({"reconnect_retries": UNLIMITED_RECONNECTS, "reconnect_delay": 1})
        if config.get("username"):
            client.set_auth_credentials(config["username"], config.get("password"))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    async def _connect(self, client: Any) -> bool:
        """Connect, retrying while the broker is not there yet; False if stopped first.

        gmqtt reconnects by itself once a session existed; the first connection
        is ours to retry.
        """
        config = self._config
        while not self._stop.is_set():
            try:
                await client.connect(config["host"], config["port"], keepalive=30, version=MQTTv50)
            except (OSError, gmqtt.mqtt.handler.MQTTConnectError) as exc:
                log.warning("mqtt connect to %s:%s failed: %s", config["host"], config["port"], exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=1.0)
                continue
            return True
        return False

    async def _listen(self, commands: asyncio.StreamReader) -> None:
        """Settle committed messages as the parent reports them; stop on its word or its death."""
        try:
            while True:
                command = await frames.read_async(commands)
                if command is None or command[0] == frames.STOP:
                    break
                self._settle(command[1])
        finally:
            self._stop.set()

    def _on_connect(self, client: Any, _flags: int, result: int, _properties: Any) -> None:
        if result != 0:
            log.warning("mqtt connect refused: %s", result)
            return
        self._generation += 1
        # The persistent session keeps subscriptions, but a broker that lost it
        # (restarted without persistence) needs them again.
        client.subscribe([gmqtt.Subscription(topic, qos=1) for topic in self._topics])
        self._send((frames.CONNECTED, self._generation))

    def _on_disconnect(self, _client: Any, _packet: Any, _exc: Any = None) -> None:
        # Whatever arrived on that connection can no longer be acknowledged on it.
        self._generation += 1
        self._fail_waiting()
        self._send((frames.DISCONNECTED, self._generation))

    async def _on_message(
        self, _client: Any, topic: str, payload: bytes, qos: int, properties: dict[str, Any]
    ) -> int:
        key = next(self._ids) if qos > 0 else 0
        self._outbox.append(
            (key, topic, bytes(payload), time.time_ns() // 1_000_000, _content_type(properties))
        )
        if len(self._outbox) >= _RECORDS_PER_FRAME:
            self._flush()
        elif not self._flush_scheduled:
            # Once this turn's burst of packets is parsed.
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        if qos == 0:
            return _PUBACK_SUCCESS
        waiting: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting[key] = waiting
        return await waiting

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._outbox:
            records, self._outbox = self._outbox, []
            self._send((frames.MESSAGES, records))

    def _send(self, frame: frames.Frame) -> None:
        # Messages announced before a connection event must reach the parent first.
        if frame[0] != frames.MESSAGES and self._outbox:
            self._flush()
        if self._stop.is_set():
            return
        try:
            frames.write(self._out, frame)
        except OSError:
            # The collector is gone (killed, most likely): nothing more will be
            # committed, so nothing more may be acknowledged.
            log.info("collector gone; receiver stopping")
            self._outbox.clear()
            self._stop.set()

    def _settle(self, keys: Sequence[int]) -> None:
        # Keys are never reused; one from an earlier connection is gone already
        # (its future failed when that connection dropped).
        for key in keys:
            waiting = self._waiting.pop(key, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(_PUBACK_SUCCESS)

    def _fail_waiting(self) -> None:
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(_NotCommittedError())


def _content_type(properties: dict[str, Any]) -> str | None:
    value = properties.get("content_type")
    if isinstance(value, list):
        return str(value[0]) if value else None
    return None if value is None else str(value)


def _quiet_about_uncommitted(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # gmqtt reads the handler's result in a done-callback; an uncommitted message
    # ends its handler with _NotCommittedError, which is the point, not an error.
    if isinstance(context.get("exception"), _NotCommittedError):
        return
    loop.default_exception_handler(context)


async def _main(out: IO[bytes]) -> None:
    # Unbuffered, so reading the config frame takes no byte of the frames after it.
    stdin = os.fdopen(0, "rb", buffering=0)
    first = frames.read(stdin)
    if first is None or first[0] != frames.CONFIG:
        raise SystemExit("gmqtt_receiver: expected a config frame on stdin")
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), stdin)
    await Receiver(first[1], out).run(commands)


def main() -> None:
    # Frames own the original stdout; anything a library prints goes to stderr
    # instead of into the frame stream.
    # Ctrl-C in a terminal reaches the whole process group; the collector decides
    # when this process stops (after its last commit has been acknowledged).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    logging.basicConfig(
        level=os.environ.get("WATTLINE_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s (receiver): %(message)s",
    )
    # gmqtt logs every lost connection as a warning with a traceback; the
    # collector reports losses and reconnects itself, once each.
    logging.getLogger("gmqtt").setLevel(logging.ERROR)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(out))


if __name__ == "__main__":
    main()
