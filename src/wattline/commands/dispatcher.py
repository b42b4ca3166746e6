"""Delivery: publishes due commands over MQTT and turns device answers into state changes.

One thread owns the work. Ingest's listener (``on_committed``) and the MQTT
callbacks only put what they saw on a queue and wake the thread, so the
committing thread never waits on the database or the broker here.

Each pass, the thread:
1. applies the answers it was handed (canonical acks, relay reports of plugs,
   Tasmota's RESULT, Shelly's RPC responses);
2. makes the sent commands of devices that came back due again;
3. expires what passed its ``expires_at`` and signs and publishes every due
   command of a device not known to be offline (the ``sent`` step is stored
   first, with a conditional update, so two processes never both send a step);
4. sleeps until woken (a new command, an answer) or ``poll_s`` passes, which is
   how a command issued by another process (``wattline serve``) is found.

A send is retried with backoff (states.retry_delay_ms) until acknowledged or
expired. The scans need the ``commands`` lease when several processes run
dispatchers; answers are applied by whichever process hears them.
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from wattline.commands import relay
from wattline.commands.downlinks import (
    SHELLY,
    SIGNING,
    SMARTPLUG,
    TASMOTA,
    Prefixes,
    command_downlink,
    config_downlink,
    family_for,
)
from wattline.commands.service import CommandService
from wattline.commands.states import Command, CommandState
from wattline.ingest.sources.base import MqttEndpoint
from wattline.model.events import Committed
from wattline.model.messages import CommandAck, CommandResult, ConnectionState
from wattline.protocols.canonical_messages import parse_command_ack
from wattline.protocols.errors import ProtocolError
from wattline.protocols.topics import levels_under
from wattline.protocols.validation import DEVICE_ID_RE
from wattline.storage.base import StoreUnavailableError
from wattline.storage.sql.leases import SqlLeases

log = logging.getLogger("wattline.commands")

LEASE = "commands"
# Renewed every pass; another process takes over within this after a crash.
LEASE_TTL_MS = 15_000
# The lease is written again only this often, not on every pass: each renewal is a
# database write that, on SQLite, waits for the one writer ingest also needs (under
# load a renewal per committed batch cost the process more than its collector did).
LEASE_RENEW_S = LEASE_TTL_MS / 3 / 1000
# A new command from another process is found within this; in-process ones at once.
POLL_S = 0.25
BATCH = 500
# The largest queue of answers between passes; past it an answer is dropped and
# the command is retried, which the device's dedup by command id makes harmless.
MAX_PENDING_EVENTS = 100_000
# A configuration report larger than this is not stored (the desired ones are far smaller).
MAX_CONFIG_BYTES = 8192
# Canonical acks arrive twice, on the dispatcher's own subscription and from ingest;
# the answers applied lately are remembered so that the second copy costs no query.
RECENT_ACKS = 10_000


@dataclass(frozen=True, slots=True)
class _RelayReport:
    device_id: str
    relay_on: bool


@dataclass(frozen=True, slots=True)
class _Back:
    device_id: str


@dataclass(frozen=True, slots=True)
class _ConfigReport:
    device_id: str
    version: int
    applied: dict[str, object]


_Event = CommandAck | _RelayReport | _Back | _ConfigReport
# Families whose devices complete a command by reporting the relay state.
RELAY_REPORTING = frozenset({SMARTPLUG, TASMOTA})


class Dispatcher:
    def __init__(  # noqa: PLR0913 - where to send, and how often
        self,
        service: CommandService,
        endpoint: MqttEndpoint,
        prefixes: Prefixes | None = None,
        *,
        client_id: str | None = None,
        poll_s: float = POLL_S,
        release_spread_s: float = 0.0,
        leases: SqlLeases | None = None,
        holder: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._service = service
        self._endpoint = endpoint
        self._prefixes = prefixes or Prefixes()
        self._client_id = client_id or f"wattline-commands-{uuid.uuid4().hex[:8]}"
        self._poll_s = poll_s
        self._release_spread_ms = int(release_spread_s * 1000)
        self._leases = leases
        self._holder = holder or self._client_id
        self._renew_lease_at = 0.0  # monotonic: until then the lease held is still ours
        self._monotonic = monotonic
        self._events: queue.Queue[_Event] = queue.Queue(MAX_PENDING_EVENTS)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._release = threading.Event()  # set on (re)connect: stagger queued relays
        # devices whose relay report completes a command (families without acks)
        self._awaiting_relay: set[str] = set()
        # Shelly RPC call id -> (device id, command id), answered on {src}/rpc
        self._rpc_calls: dict[int, tuple[str, str]] = {}
        self._next_rpc = 1
        # (command id, status) of the canonical acks applied lately, oldest first
        self._recent_acks: OrderedDict[tuple[str, CommandResult], None] = OrderedDict()
        self._thread: threading.Thread | None = None
        self._client = self._make_client()

    # -- what other threads call -----------------------------------------------------

    def on_committed(self, event: Committed) -> None:
        """Ingest's listener: quick, never raises. Wakes the thread only when the batch
        held something for it: a pass per committed batch would cost the database a
        few queries for every batch of readings."""
        # an ack already applied from the dispatcher's own subscription is no reason for a pass
        recent = self._recent_acks
        answers: list[_Event] = [
            ack for ack in event.command_acks if (ack.command_id, ack.status) not in recent
        ]
        answers += [_Back(s.device_id) for s in event.statuses if s.state is ConnectionState.ONLINE]
        answers += [_Back(hello.device_id) for hello in event.hellos]
        if self._awaiting_relay:
            for reading in event.readings:
                value = reading.metrics.get("relay_state")
                if value is not None and reading.device_id in self._awaiting_relay:
                    answers.append(_RelayReport(reading.device_id, value >= 0.5))
        if not answers:
            return
        try:
            for answer in answers:
                self._events.put_nowait(answer)
        except queue.Full:
            log.warning("command answers queue is full; the commands will be retried")
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._client.connect_async(self._endpoint.host, self._endpoint.port, keepalive=30)
        self._client.loop_start()
        self._thread = threading.Thread(target=self._run, name="wattline-commands", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
        # DISCONNECT first wakes paho's network thread; loop_stop alone waits out its 1 s select.
        self._client.disconnect()
        self._client.loop_stop()
        if self._leases is not None:
            try:
                self._leases.release(LEASE, self._holder)
            except Exception:
                log.warning("could not release the commands lease", exc_info=True)

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    # -- the thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except StoreUnavailableError as exc:
                # an outage is expected and retried: one line, not a traceback each pass
                log.warning("command dispatch: store unavailable, will retry: %s", exc)
            except Exception:
                # A database or broker outage: log, wait, try again; nothing is lost
                # because every step is in the database before it is published.
                log.exception("command dispatch pass failed; retrying")
                self._stop.wait(1.0)
            self._wake.wait(self._poll_s)
            self._wake.clear()

    def run_once(self) -> int:
        """One pass; returns the number of commands published."""
        self._apply_events()
        if not self._leading():
            return 0
        now = self._service.clock_ms()
        expiring = self._service.store.expiring(now, BATCH)
        if expiring:
            self._service.move_many(expiring, CommandState.EXPIRED, "expired before completion")
        if not self._connected.is_set():
            return 0
        if self._release.is_set():  # checked after connected: set before it, on connect
            self._release.clear()
            self._stagger_queued_relays()
            now = self._service.clock_ms()
        self._send_configs()
        return self._send(self._service.store.due(now, BATCH))

    def _send_configs(self) -> None:
        twins = self._service.twins
        if twins is None:
            return
        for twin in twins.unsent(BATCH):
            device = self._service.devices.get_device(twin.device_id, tenant_id=twin.tenant_id)
            family = family_for(device.device_type if device else None)
            downlink = config_downlink(family, twin.device_id, twin.document(), self._prefixes)
            if downlink is not None:
                self._client.publish(downlink.topic, downlink.payload, qos=1)
            twins.mark_sent(twin, self._service.clock_ms())

    def _leading(self) -> bool:
        if self._leases is None:
            return True
        now_s = self._monotonic()
        if now_s < self._renew_lease_at:
            return True  # renewed less than LEASE_RENEW_S ago: still ours for 10 s more
        leading = self._leases.try_acquire(LEASE, self._holder, LEASE_TTL_MS)
        self._renew_lease_at = now_s + LEASE_RENEW_S if leading else 0.0
        return leading

    def _apply_events(self) -> None:
        back: set[str] = set()
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                break
            if isinstance(event, CommandAck):
                self._apply_ack(event)
            elif isinstance(event, _RelayReport):
                if self._service.record_relay(event.device_id, event.relay_on) is not None:
                    self._awaiting_relay.discard(event.device_id)
            elif isinstance(event, _ConfigReport):
                if self._service.twins is not None:
                    self._service.twins.report(
                        event.device_id, event.version, event.applied, self._service.clock_ms()
                    )
            else:
                back.add(event.device_id)
        # One statement for every device that came back, not one per hello or status.
        if back and self._service.store.resend_soon(sorted(back), self._service.clock_ms()):
            log.info("devices came back: resending their unacknowledged commands")
        if back and self._service.twins is not None:
            self._service.twins.resend_on_reconnect(sorted(back))

    def _apply_ack(self, ack: CommandAck) -> None:
        """Record an answer unless it was applied lately: a canonical ack is heard twice,
        on the dispatcher's subscription (quick) and from ingest after its commit."""
        key = (ack.command_id, ack.status)
        if key in self._recent_acks:
            return
        self._recent_acks[key] = None
        if len(self._recent_acks) > RECENT_ACKS:
            self._recent_acks.popitem(last=False)
        self._service.record_ack(ack)

    def _send(self, due: list[Command]) -> int:
        """Sign, store the ``sent`` steps in one transaction, then publish those won."""
        if not due:
            return 0
        envelopes = [
            self._service.envelope(c) if c.family in SIGNING else _unsigned(c) for c in due
        ]
        published = 0
        for command, envelope, sent in zip(
            due, envelopes, self._service.move_many(due, CommandState.SENT), strict=True
        ):
            if sent is None:
                continue  # cancelled, answered or taken by another process meanwhile
            rpc_id = self._rpc_id(command) if command.family == SHELLY else 1
            downlink = command_downlink(
                command.family, command.device_id, envelope, self._prefixes, rpc_id
            )
            if command.family in RELAY_REPORTING:
                self._awaiting_relay.add(command.device_id)
            info = self._client.publish(downlink.topic, downlink.payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                log.warning(
                    "publishing command %s failed (%s); it will be retried",
                    command.command_id,
                    mqtt.error_string(info.rc),
                )
            published += 1
        return published

    def _rpc_id(self, command: Command) -> int:
        rpc_id = self._next_rpc
        self._next_rpc += 1
        self._rpc_calls[rpc_id] = (command.device_id, command.command_id)
        return rpc_id

    def _stagger_queued_relays(self) -> None:
        """After a (re)start, queued relay commands go out spread over the release
        spread, never all at once: every plug switching together is an inrush."""
        if self._release_spread_ms <= 0:
            return
        queued = self._service.store.queued_relays(relay.RELAY_COMMANDS, 100_000)
        if len(queued) < 2:
            return
        now = self._service.clock_ms()
        step_ms = self._release_spread_ms / len(queued)
        self._service.store.postpone_many(
            [(command, now + int(index * step_ms)) for index, command in enumerate(queued)]
        )
        log.info(
            "releasing %d queued relay commands over %.1f s",
            len(queued),
            self._release_spread_ms / 1000,
        )

    # -- MQTT ---------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self._client_id,
            protocol=mqtt.MQTTv311,
        )
        if self._endpoint.username is not None:
            client.username_pw_set(self._endpoint.username, self._endpoint.password)
        client.on_socket_open = _no_delay
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        _flags: object,
        reason_code: object,
        _properties: object,
    ) -> None:
        if getattr(reason_code, "is_failure", False):
            log.error("broker refused the command dispatcher: %s", reason_code)
            return
        client.subscribe(
            [
                (f"{self._prefixes.tasmota_result}/+/RESULT", 1),
                (f"{self._prefixes.shelly_src}/rpc", 1),
                (f"{self._prefixes.canonical}/+/config/reported", 1),
                (ack_filter(self._prefixes), 1),
            ]
        )
        self._release.set()  # before connected: a pass that sees connected sees this too
        self._connected.set()
        self._wake.set()

    def _on_disconnect(self, *_args: object) -> None:
        self._connected.clear()

    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        answer = device_answer(msg.topic, bytes(msg.payload), self._prefixes, self._rpc_calls)
        if answer is not None:
            try:
                self._events.put_nowait(answer)
            except queue.Full:
                return
            self._wake.set()


def _no_delay(_client: mqtt.Client, _userdata: object, sock: object) -> None:
    """Small packets go out at once. With Nagle's algorithm (paho leaves it on) a
    command waited up to the peer's delayed TCP ack, 40 ms on Linux, whenever the
    PUBACK the dispatcher wrote for the ack before it was not yet acknowledged."""
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def ack_filter(prefixes: Prefixes) -> str:
    """The canonical acks, heard here as well as by ingest: through ingest an ack
    waits in the collector's session behind the telemetry queued before it (a
    second's burst from a whole fleet is several commits, as the broker hands out
    20 unacknowledged messages at a time), on this subscription it does not."""
    return f"{prefixes.canonical}/+/command/ack"


def device_answer(  # noqa: PLR0911 - one early return per unusable answer
    topic: str, payload: bytes, prefixes: Prefixes, rpc_calls: dict[int, tuple[str, str]]
) -> CommandAck | _RelayReport | _ConfigReport | None:
    """A canonical ``{prefix}/{id}/command/ack`` (JSON; CBOR ones come through ingest
    only); Tasmota's ``stat/{id}/RESULT`` as a relay report; a Shelly RPC response
    on ``{src}/rpc`` as the ack of the command whose call id it answers."""
    try:
        body = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    canonical = levels_under(topic, prefixes.canonical)
    if canonical is not None and canonical[1:] == ["command", "ack"]:
        return _canonical_ack(canonical[0], body)
    levels = topic.split("/")
    if topic.startswith(f"{prefixes.canonical}/") and topic.endswith("/config/reported"):
        return _config_report(levels, body)
    if len(levels) == 3 and levels[0] == prefixes.tasmota_result and levels[2] == "RESULT":
        power = body.get("POWER", body.get("POWER1"))
        return _RelayReport(levels[1], power == "ON") if power in ("ON", "OFF") else None
    if topic != f"{prefixes.shelly_src}/rpc" or not isinstance(body.get("id"), int):
        return None
    call = rpc_calls.get(body["id"])
    if call is None or body.get("src") != call[0]:
        return None  # not our call, or an answer from another device than the one called
    del rpc_calls[body["id"]]
    device_id, command_id = call
    error = body.get("error")
    if isinstance(error, dict):
        detail = str(error.get("message", "error"))[:256]
        return CommandAck(device_id, command_id, CommandResult.FAILED, detail, _now_ms())
    return CommandAck(device_id, command_id, CommandResult.DONE, "rpc ok", _now_ms())


def _canonical_ack(device_id: str, body: dict[str, object]) -> CommandAck | None:
    if not DEVICE_ID_RE.fullmatch(device_id):
        return None
    try:
        return parse_command_ack(device_id, body, _now_ms())
    except ProtocolError:
        return None  # ingest quarantines it, with the reason


def _config_report(levels: list[str], body: dict[str, object]) -> _ConfigReport | None:
    """``{prefix}/{id}/config/reported``: ``{"version": n, "config": {...}}``."""
    version, applied = body.get("version"), body.get("config")
    if len(levels) < 4 or not isinstance(version, int) or not isinstance(applied, dict):
        return None
    if len(json.dumps(applied)) > MAX_CONFIG_BYTES:
        return None
    return _ConfigReport(levels[-3], version, applied)


def _unsigned(command: Command) -> dict[str, object]:
    return {"name": command.name, "parameters": dict(command.parameters)}


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
