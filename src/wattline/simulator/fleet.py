"""Fleet specification and the wire payloads the simulated devices emit."""

from __future__ import annotations

import logging
import math
import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import orjson
from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from wattline.simulator.models import (
    AcMeter,
    DcRailMeter,
    DeviceModel,
    HomeSensorNode,
    SmartPlug,
    SolarInverter,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from paho.mqtt.properties import Properties
    from paho.mqtt.reasoncodes import ReasonCode

    from wattline.simulator.commands import CommandResponder

DeviceState = Literal["online", "offline"]

_log = logging.getLogger("wattline.simulator")


@dataclass(frozen=True, slots=True)
class SimulatedDevice:
    device_id: str
    device_type: str
    firmware: str
    model: DeviceModel

    @property
    def capabilities(self) -> list[str]:
        return list(self.model.metric_names)


@dataclass(frozen=True, slots=True)
class _Site:
    latitude_deg: float
    longitude_deg: float


@dataclass(frozen=True, slots=True)
class _DeviceKind:
    id_stem: str
    device_type: str
    firmware: str
    make_model: Callable[[random.Random, _Site], DeviceModel]


def _dc_meter(rng: random.Random, _site: _Site) -> DeviceModel:
    # Distance to the substation decides how hard the line sags.
    return DcRailMeter(rng, source_resistance_ohm=rng.uniform(0.02, 0.05))


def _ac_meter(rng: random.Random, site: _Site) -> DeviceModel:
    return AcMeter(rng, base_load_w=rng.uniform(500.0, 1200.0), longitude_deg=site.longitude_deg)


def _smart_plug(rng: random.Random, _site: _Site) -> DeviceModel:
    return SmartPlug(rng, rated_power_w=rng.choice((120.0, 800.0, 1500.0, 2000.0)))


def _solar_inverter(rng: random.Random, site: _Site) -> DeviceModel:
    return SolarInverter(rng, latitude_deg=site.latitude_deg, longitude_deg=site.longitude_deg)


def _home_sensor(rng: random.Random, site: _Site) -> DeviceModel:
    return HomeSensorNode(rng, latitude_deg=site.latitude_deg, longitude_deg=site.longitude_deg)


# The demo fleet order; larger fleets repeat it so every type stays represented.
_FLEET_CYCLE: tuple[_DeviceKind, ...] = (
    _DeviceKind("dc-meter", "power_meter_dc", "2.4.1", _dc_meter),
    _DeviceKind("dc-meter", "power_meter_dc", "2.4.1", _dc_meter),
    _DeviceKind("ac-meter", "power_meter_ac", "1.9.0", _ac_meter),
    _DeviceKind("plug", "smart_plug", "3.1.2", _smart_plug),
    _DeviceKind("inverter", "solar_inverter", "5.0.3", _solar_inverter),
    _DeviceKind("sensor", "home_sensor", "0.7.5", _home_sensor),
)


# `wattline simulate`'s default id prefix: a fleet run beside `wattline up --demo`
# must not publish as the demo's devices, whose sequence tracking would then see
# a reboot and a gap on every round.
SIMULATE_ID_PREFIX = "sim-"


def build_fleet(
    count: int,
    seed: int,
    latitude_deg: float = 51.5,
    longitude_deg: float = -0.1,
    *,
    id_prefix: str = "",
) -> list[SimulatedDevice]:
    """Devices `dc-meter-1`, `dc-meter-2`, `ac-meter-1`, `plug-1`, `inverter-1`, `sensor-1`, ...

    each id preceded by id_prefix (the demo fleet has none).
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    site = _Site(latitude_deg, longitude_deg)
    numbers: dict[str, int] = {}
    fleet: list[SimulatedDevice] = []
    for index in range(count):
        kind = _FLEET_CYCLE[index % len(_FLEET_CYCLE)]
        numbers[kind.id_stem] = numbers.get(kind.id_stem, 0) + 1
        device_id = f"{id_prefix}{kind.id_stem}-{numbers[kind.id_stem]}"
        # Seeding per device id keeps each device's readings stable when the fleet grows.
        rng = random.Random(f"{seed}/{device_id}")  # noqa: S311 - simulation, not crypto
        fleet.append(
            SimulatedDevice(device_id, kind.device_type, kind.firmware, kind.make_model(rng, site))
        )
    return fleet


def _dumps(document: Mapping[str, object]) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def telemetry_payload(seq: int, ts_ms: int, metrics: Mapping[str, float]) -> bytes:
    """Canonical `{"metrics": {...}, "seq": n, "ts": epoch_ms}` with sorted keys."""
    for name, value in metrics.items():
        # orjson would quietly write NaN/inf as null, which no consumer expects.
        if not math.isfinite(value):
            raise ValueError(f"metric {name!r} is not a finite number: {value!r}")
    return _dumps({"seq": seq, "ts": ts_ms, "metrics": dict(metrics)})


def hello_payload(device_type: str, firmware: str, capabilities: list[str]) -> bytes:
    return _dumps({"type": device_type, "firmware": firmware, "capabilities": list(capabilities)})


def status_payload(state: DeviceState, ts_ms: int, uptime_s: float) -> bytes:
    return _dumps({"state": state, "ts": ts_ms, "uptime_s": uptime_s})


# Long enough for a local broker to ack a few hundred QoS 1 messages, short enough that
# Ctrl-C never feels hung when the broker has gone away.
_DRAIN_TIMEOUT_S = 5.0
_CONNECT_RETRY_S = 0.5
_CONNACK_POLL_S = 0.1
_KEEPALIVE_S = 30
# Pruning acknowledged messages is O(n); doing it every few hundred publishes keeps it cheap.
_PRUNE_THRESHOLD = 512


class FleetPublisher:
    """Publishes a whole fleet over one MQTT connection, like a site gateway would."""

    def __init__(  # noqa: PLR0913 - connection settings are independent knobs
        self,
        broker_host: str,
        broker_port: int,
        devices: Sequence[SimulatedDevice],
        *,
        interval_s: float,
        topic_prefix: str = "iot",
        heartbeat_s: float = 30.0,
        client_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        commands: CommandResponder | None = None,
    ) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        if not heartbeat_s > 0:
            raise ValueError(f"heartbeat_s must be > 0, got {heartbeat_s}")
        self._host = broker_host
        self._port = broker_port
        self._devices = tuple(devices)
        self._interval_s = interval_s
        self._prefix = topic_prefix.rstrip("/")
        self._heartbeat_s = heartbeat_s
        self._client_id = client_id or f"wattline-sim-{uuid.uuid4().hex[:8]}"
        # With broker security on: one account allowed to publish for every device of the fleet.
        self._login = (username, password) if username is not None else None
        # answers the devices' commands (verifying their signatures); None: commands unheard
        self._commands = commands

    def run(self, stop: threading.Event, *, max_rounds: int | None = None) -> int:
        """Publish until `stop` is set or `max_rounds` telemetry rounds are done.

        Returns the number of telemetry messages handed to the MQTT client.
        """
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self._client_id,
            protocol=mqtt.MQTTv311,
        )
        client.enable_logger(_log)
        watch = _ConnectionWatch()
        if self._login is not None:
            client.username_pw_set(*self._login)
        client.on_connect = watch.on_connect
        client.on_disconnect = watch.on_disconnect
        if self._commands is not None:
            _listen_for_commands(client, watch, self._commands)

        if not self._connect(client, stop):
            return 0
        client.loop_start()
        session: _Session | None = None
        try:
            if not _wait_either(watch.connected, stop):
                return 0
            session = _Session(client)
            return self._publish_loop(session, stop, max_rounds)
        finally:
            if session is not None:
                # Retained, so dashboards subscribing later still see the fleet left cleanly.
                # Sent while still connected and drained before the goodbye.
                self._publish_status(session, "offline")
                session.drain()
            # DISCONNECT first: it wakes the network thread, which sends it and ends,
            # where loop_stop alone waits out paho's 1 s select timeout (a second on
            # every stop). That thread then polls the closed socket once more and
            # logs "Client is not connected" at ERROR, so paho's log ends first.
            client.disable_logger()
            client.disconnect()
            client.loop_stop()

    def _connect(self, client: mqtt.Client, stop: threading.Event) -> bool:
        attempt = 0
        while not stop.is_set():
            attempt += 1
            try:
                client.connect(self._host, self._port, keepalive=_KEEPALIVE_S)
            except OSError as exc:
                # The broker is often still starting when the simulator comes up.
                _log.warning(
                    "broker %s:%d not reachable (attempt %d): %s; retrying in %.1fs",
                    self._host,
                    self._port,
                    attempt,
                    exc,
                    _CONNECT_RETRY_S,
                )
                stop.wait(_CONNECT_RETRY_S)
            else:
                _log.info("connected to %s:%d as %s", self._host, self._port, self._client_id)
                return True
        return False

    def _publish_loop(
        self, session: _Session, stop: threading.Event, max_rounds: int | None
    ) -> int:
        for device in self._devices:
            session.publish(
                self._topic(device, "hello"),
                hello_payload(device.device_type, device.firmware, device.capabilities),
            )
        self._publish_status(session, "online")

        rounds = 0
        sent = 0
        last_step_s = time.monotonic()
        next_telemetry_s = last_step_s
        next_heartbeat_s = last_step_s + self._heartbeat_s
        while not stop.is_set() and (max_rounds is None or rounds < max_rounds):
            now_s = time.monotonic()
            if now_s >= next_telemetry_s:
                # The round number doubles as seq: every device starts at 0 after its hello.
                sent += self._publish_readings(session, rounds, now_s - last_step_s)
                last_step_s = now_s
                rounds += 1
                next_telemetry_s = _next_tick(next_telemetry_s, self._interval_s, now_s)
            if now_s >= next_heartbeat_s:
                self._publish_status(session, "online")
                next_heartbeat_s = _next_tick(next_heartbeat_s, self._heartbeat_s, now_s)
            if max_rounds is not None and rounds >= max_rounds:
                break
            stop.wait(max(0.0, min(next_telemetry_s, next_heartbeat_s) - time.monotonic()))
        _log.info("published %d telemetry messages in %d rounds", sent, rounds)
        return sent

    def _publish_readings(self, session: _Session, seq: int, dt_s: float) -> int:
        ts_ns = time.time_ns()
        ts_ms = ts_ns // 1_000_000
        now = datetime.fromtimestamp(ts_ns / 1e9, tz=UTC)
        sent = 0
        for device in self._devices:
            metrics = device.model.step(now, dt_s)
            topic = self._topic(device, "telemetry")
            if session.publish(topic, telemetry_payload(seq, ts_ms, metrics)):
                sent += 1
        return sent

    def _publish_status(self, session: _Session, state: DeviceState) -> None:
        payload = status_payload(state, time.time_ns() // 1_000_000, round(session.uptime_s, 3))
        for device in self._devices:
            session.publish(self._topic(device, "status"), payload, retain=True)

    def _topic(self, device: SimulatedDevice, leaf: str) -> str:
        return f"{self._prefix}/{device.device_id}/{leaf}"


def _listen_for_commands(
    client: mqtt.Client, watch: _ConnectionWatch, responder: CommandResponder
) -> None:
    """Subscribe to the fleet's command topics on every (re)connect and answer them."""

    def on_connect(
        connected: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        watch.on_connect(connected, userdata, flags, reason_code, properties)
        if not reason_code.is_failure:
            responder.subscribe(connected)

    client.on_connect = on_connect
    client.on_message = responder.on_message


def _next_tick(previous_s: float, period_s: float, now_s: float) -> float:
    following = previous_s + period_s
    # After a stall (suspended laptop, slow broker) skip missed slots instead of bursting.
    return following if following > now_s else now_s + period_s


def _wait_either(event: threading.Event, stop: threading.Event) -> bool:
    """Wait for `event` unless `stop` comes first; threading has no wait-any, so poll gently."""
    while not stop.is_set():
        if event.wait(_CONNACK_POLL_S):
            return True
    return False


class _ConnectionWatch:
    """paho callbacks (run on its network thread) reduced to one thread-safe flag."""

    def __init__(self) -> None:
        self.connected = threading.Event()

    def on_connect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            # paho's network loop retries by itself; all we can add is a clear log line.
            _log.error("broker refused connection: %s", reason_code)
            return
        self.connected.set()

    def on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self.connected.clear()
        if reason_code.is_failure:
            _log.warning("lost broker connection: %s; paho will reconnect", reason_code)


def _is_settled(info: mqtt.MQTTMessageInfo) -> bool:
    try:
        return info.is_published()
    except (RuntimeError, ValueError):
        # Failed for good (or queued offline, which paho reports as an error code):
        # there is nothing left to wait on through this handle.
        return True


class _Session:
    """One connected run: uptime and the QoS 1 publishes not yet acknowledged."""

    def __init__(self, client: mqtt.Client) -> None:
        self._client = client
        self._started_s = time.monotonic()
        self._pending: list[mqtt.MQTTMessageInfo] = []

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self._started_s

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> bool:
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc == mqtt.MQTT_ERR_NO_CONN:
            # Still queued: paho sends it once its network loop has reconnected.
            _log.debug("queued %s while disconnected", topic)
            return True
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            _log.warning("publish to %s failed: %s", topic, mqtt.error_string(info.rc))
            return False
        self._pending.append(info)
        if len(self._pending) > _PRUNE_THRESHOLD:
            self._pending = [item for item in self._pending if not _is_settled(item)]
        return True

    def drain(self) -> None:
        deadline_s = time.monotonic() + _DRAIN_TIMEOUT_S
        for info in self._pending:
            remaining_s = deadline_s - time.monotonic()
            if remaining_s <= 0:
                break
            try:
                info.wait_for_publish(timeout=remaining_s)
            except (RuntimeError, ValueError) as exc:
                _log.warning("message %d was not delivered: %s", info.mid, exc)
        unacked = sum(1 for info in self._pending if not _is_settled(info))
        if unacked:
            _log.warning("%d messages still unacknowledged at shutdown", unacked)
        self._pending.clear()
