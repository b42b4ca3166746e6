"""Commands end to end through a real Mosquitto, on both stores: API -> signed envelope
-> simulated device verifies -> relay switches -> ack -> state in the API."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from tests.e2e.conftest import wait_until
from tests.integration.commands.players import SmartPlugPlayer, TasmotaPlayer

from wattline.api.app import create_app
from wattline.api.services import ApiServices
from wattline.archive.folder import FolderArchive
from wattline.commands.dispatcher import Dispatcher
from wattline.commands.downlinks import Prefixes
from wattline.commands.envelopes import Unsigned, sign
from wattline.commands.keys import SqlCommandKeys
from wattline.commands.relay import RelayPolicy
from wattline.commands.service import CommandService
from wattline.commands.states import CommandState
from wattline.commands.store import SqlCommandStore
from wattline.commands.twin_store import SqlTwinStore
from wattline.ingest.collector import BatchPolicy, Collector
from wattline.ingest.committer import Committer
from wattline.ingest.interpret import InterpretConfig
from wattline.ingest.sources import open_source
from wattline.ingest.sources.base import (
    DeliverFn,
    DeliverManyFn,
    MessageSource,
    MqttEndpoint,
    SessionOptions,
)
from wattline.model.events import Committed, OnCommitted
from wattline.observability.metrics import IngestMetrics
from wattline.protocols.adapters.canonical import CanonicalAdapter
from wattline.protocols.adapters.smartplug import SmartPlugAdapter
from wattline.simulator.commands import CommandResponder
from wattline.simulator.fleet import FleetPublisher, SimulatedDevice
from wattline.simulator.models import SmartPlug
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore

AUTH = {"Authorization": "Bearer t"}


class Rig:
    """One test's Wattline: store, collector, dispatcher (optional), API, one simulated plug."""

    def __init__(self, store: SqlStore, endpoint: MqttEndpoint, tmp_path: Path) -> None:
        self.store = store
        self.endpoint = endpoint
        self.prefix = f"t{uuid.uuid4().hex[:10]}"
        # every family's topics under this test's own prefixes
        self.prefixes = Prefixes(
            canonical=self.prefix,
            smartplug=f"{self.prefix}sp",
            tasmota_command=f"{self.prefix}cmnd",
            tasmota_result=f"{self.prefix}stat",
            shelly_src=f"{self.prefix}src",
        )
        self.plug_id = f"plug-{uuid.uuid4().hex[:8]}"
        self.service = CommandService(
            SqlCommandStore(store.engine),
            SqlCommandKeys(store.engine),
            store,
            RelayPolicy(min_on_s=30, min_off_s=30, max_switches_per_hour=60),
            twins=SqlTwinStore(store.engine),
        )
        self.plug = SmartPlug(random.Random(7), rated_power_w=1000.0, mean_on_s=1e9, mean_off_s=1e9)
        self.plug.set_relay(True)
        device = SimulatedDevice(self.plug_id, "smart_plug", "3.1.2", self.plug)
        self.responder = CommandResponder([device], self._keys, self.prefix)
        self._device = device
        self._tmp = tmp_path
        self._stops: list[Callable[[], None]] = []
        self.dispatcher: Dispatcher | None = None
        store.register_device(self.plug_id, "smart_plug", _now_ms(), tenant_id=DEFAULT_TENANT)
        self.api = TestClient(
            create_app(
                ApiServices(
                    store=store,
                    admin_token="t",
                    registry=CollectorRegistry(),
                    offline_after_ms=120_000,
                    commands=self.service,
                )
            )
        )

    def _keys(self) -> list[tuple[str, str]]:
        return [(k.key_id, k.public_key) for k in self.service.keys.public_keys(DEFAULT_TENANT)]

    def start(self, *, dispatch: bool = True) -> None:
        listener: OnCommitted
        if dispatch:
            listener = self.start_dispatcher().on_committed
        else:

            def listener(event: Committed) -> None:
                for ack in event.command_acks:
                    self.service.record_ack(ack)

        self._collector(listener)

    def start_dispatcher(self) -> Dispatcher:
        self.dispatcher = Dispatcher(self.service, self.endpoint, self.prefixes, poll_s=0.05)
        self.service.wake = self.dispatcher.wake
        self.dispatcher.start()
        self._stops.append(self.dispatcher.stop)
        assert self.dispatcher.wait_connected(5)
        return self.dispatcher

    def _collector(self, listener: OnCommitted) -> None:
        metrics = IngestMetrics(CollectorRegistry())
        committer = Committer(
            self.store,
            FolderArchive(self._tmp / "archive"),
            InterpretConfig(topic_prefix=self.prefix, adapters=self.adapters),
            metrics,
            auto_register=True,
            on_committed=listener,
        )
        topics = [f"{self.prefix}/+/{kind}" for kind in ("telemetry", "hello", "status")]
        topics.append(f"{self.prefix}/+/command/ack")
        topics += self.adapters[1].subscriptions()

        def make_source(deliver: DeliverFn, _deliver_many: DeliverManyFn) -> MessageSource:
            return open_source(self.endpoint, f"c-{self.prefix}", topics, deliver, SessionOptions())

        collector = Collector(
            make_source, committer, metrics, BatchPolicy(max_messages=50, max_wait_s=0.01)
        )
        collector.start()
        self._stops.append(collector.stop)
        assert collector.wait_connected(5)

    @property
    def adapters(self) -> tuple[CanonicalAdapter, SmartPlugAdapter]:
        return CanonicalAdapter(self.prefix), SmartPlugAdapter(self.prefixes.smartplug)

    def device_online(self) -> Callable[[], None]:
        """Run the plug (hello, online, telemetry every 0.1 s) until the returned stop."""
        publisher = FleetPublisher(
            self.endpoint.host,
            self.endpoint.port,
            [self._device],
            interval_s=0.1,
            topic_prefix=self.prefix,
            commands=self.responder,
        )
        stop = threading.Event()
        thread = threading.Thread(target=publisher.run, args=(stop,))
        thread.start()

        def stopped() -> None:
            stop.set()
            thread.join(10)

        self._stops.append(stopped)
        wait_until(lambda: self.state() == "online", 5, "the plug to be online")
        return stopped

    def state(self) -> str:
        device = self.store.get_device(self.plug_id, tenant_id=DEFAULT_TENANT)
        return device.state.value if device else "missing"

    def detail(self, command_id: str) -> dict[str, Any]:
        answer = self.api.get(f"/api/v1/devices/{self.plug_id}/commands/{command_id}", headers=AUTH)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def close(self) -> None:
        for stop in reversed(self._stops):
            stop()
        self.api.close()


@pytest.fixture
def rig(store: SqlStore, mosquitto_url: str, tmp_path: Path) -> Iterator[Rig]:
    made = Rig(store, MqttEndpoint.from_url(mosquitto_url), tmp_path)
    yield made
    made.close()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def test_round_trip_switches_the_relay_and_succeeds(rig: Rig) -> None:
    rig.start()
    rig.device_online()
    answer = rig.api.post(
        f"/api/v1/devices/{rig.plug_id}/command?wait=5",
        json={"command": "relay_off"},
        headers=AUTH,
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["state"] == "succeeded", body
    assert body["result"] == "relay off"
    assert not rig.plug.relay_on
    history = [step["to_state"] for step in rig.detail(body["command_id"])["history"]]
    assert history == ["queued", "sent", "succeeded"]

    def power_is_zero() -> bool:
        latest = {v.metric: v for v in rig.store.latest_values([rig.plug_id])[rig.plug_id]}
        return latest["power_w"].value == 0 and latest["power_w"].ts_ms > body_ms(body)

    wait_until(power_is_zero, 5, "telemetry with the relay off")


def body_ms(body: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(body["state_at"]).timestamp() * 1000)


def test_offline_device_gets_the_command_once_after_reconnect(rig: Rig) -> None:
    rig.start()
    stop = rig.device_online()
    stop()
    wait_until(lambda: rig.state() == "offline", 5, "the plug to be offline")
    answer = rig.api.post(
        f"/api/v1/devices/{rig.plug_id}/commands", json={"name": "ping"}, headers=AUTH
    )
    command_id = answer.json()["command_id"]
    time.sleep(0.3)  # several dispatcher passes: none may send to an offline device
    assert rig.detail(command_id)["state"] == "queued"
    rig.device_online()
    wait_until(lambda: rig.detail(command_id)["state"] == "succeeded", 5, "the ping's ack")
    assert rig.responder.executed.count((rig.plug_id, command_id)) == 1


def test_expired_command_is_never_sent(rig: Rig) -> None:
    rig.start()
    stop = rig.device_online()
    stop()
    wait_until(lambda: rig.state() == "offline", 5, "the plug to be offline")
    answer = rig.api.post(
        f"/api/v1/devices/{rig.plug_id}/commands",
        json={"name": "ping", "expires_in_s": 0.2},
        headers=AUTH,
    )
    command_id = answer.json()["command_id"]
    wait_until(lambda: rig.detail(command_id)["state"] == "expired", 5, "expiry")
    rig.device_online()
    time.sleep(0.3)
    detail = rig.detail(command_id)
    assert detail["state"] == "expired"
    assert detail["attempts"] == 0
    assert rig.responder.executed == []


def test_forged_expired_other_device_and_replayed_envelopes_are_refused(rig: Rig) -> None:
    """A man in the middle publishes on the plug's topic; its refusals reach the API."""
    rig.start(dispatch=False)
    rig.device_online()
    service, key = rig.service, rig.service.keys.signing_key(DEFAULT_TENANT)
    ids = {}
    for case in ("forged", "expired", "other", "replayed"):
        command = service.issue(DEFAULT_TENANT, rig.plug_id, "ping", {}, "test")
        sent = service.move(command, CommandState.SENT)
        assert sent is not None
        ids[case] = command.command_id
    now = _now_ms()

    def envelope(case: str, **changes: Any) -> dict[str, Any]:
        fields = {
            "device_id": rig.plug_id,
            "command_id": ids[case],
            "name": "ping",
            "parameters": {},
            "nonce": uuid.uuid4().hex,
            "issued_ms": now,
            "expires_ms": now + 60_000,
        } | changes
        return sign(Unsigned(**fields), key)

    forged = envelope("forged") | {"name": "relay_off"}  # changed after signing
    stranger = sign(
        Unsigned(rig.plug_id, ids["forged"], "ping", {}, "n", now, now + 60_000),
        Ed25519PrivateKey.generate(),
    )
    replayed = envelope("replayed")
    for document in (
        forged,
        stranger,
        envelope("expired", issued_ms=now - 120_000, expires_ms=now - 60_000),
        envelope("other", device_id="someone-else"),
        replayed,
        replayed,
    ):
        _publish(rig, f"{rig.prefix}/{rig.plug_id}/command", document)

    def settled() -> bool:
        return all(rig.detail(i)["state"] != "sent" for i in ids.values())

    wait_until(settled, 5, "the device's answers")
    assert rig.detail(ids["forged"])["result"] == "bad signature"
    assert rig.detail(ids["expired"])["result"].startswith("expired")
    assert rig.detail(ids["other"])["result"].startswith("addressed to another device")
    replay = rig.detail(ids["replayed"])
    assert replay["state"] == "succeeded"

    def replay_noted() -> bool:
        details = [s["detail"] or "" for s in rig.detail(ids["replayed"])["history"]]
        return any("replayed" in d for d in details)

    wait_until(replay_noted, 5, "the replay's refusal in the history")
    assert rig.plug.relay_on  # the forged relay_off was never executed


def test_a_burst_of_toggles_switches_once(rig: Rig) -> None:
    rig.start()
    rig.device_online()
    url = f"/api/v1/devices/{rig.plug_id}/commands"
    codes = [rig.api.post(url, json={"name": "relay_toggle"}, headers=AUTH) for _ in range(20)]
    assert [a.status_code for a in codes].count(201) == 1
    refused = [a for a in codes if a.status_code == 409]
    assert len(refused) == 19
    assert "min_on_s" in refused[0].json()["detail"]
    command_id = codes[0].json()["command_id"]
    wait_until(lambda: rig.detail(command_id)["state"] == "succeeded", 5, "the toggle")
    assert not rig.plug.relay_on
    assert len(rig.responder.executed) == 1


def test_configuration_twin_sends_the_delta_and_records_what_was_applied(rig: Rig) -> None:
    rig.start()
    stop = rig.device_online()
    url = f"/api/v1/devices/{rig.plug_id}/config"
    refused = rig.api.put(url, json={"desired": {"max_power_w": 9000}}, headers=AUTH)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "desired", "max_power_w"]
    stop()
    wait_until(lambda: rig.state() == "offline", 5, "the plug to be offline")
    desired = {"report_interval_s": 5, "relay_default_on": False}
    answer = rig.api.put(url, json={"desired": desired}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["desired_version"], answer.json()["delta"]) == (1, desired)
    rig.device_online()  # the delta goes out when the plug is back

    def applied() -> bool:
        body = rig.api.get(url, headers=AUTH).json()
        return body["reported_version"] == 1 and body["delta"] == {}

    wait_until(applied, 5, "the plug's configuration report")
    assert rig.responder.configs[rig.plug_id] == desired


def _publish(rig: Rig, topic: str, document: dict[str, Any]) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"mitm-{uuid.uuid4().hex}")
    client.connect(rig.endpoint.host, rig.endpoint.port)
    client.loop_start()
    try:
        client.publish(topic, json.dumps(document), qos=1).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


def test_queued_relay_commands_are_released_over_the_spread(
    store: SqlStore, mosquitto_url: str
) -> None:
    """After a restart, 200 queued relay commands go out spread over 20 s, not at once."""
    service = CommandService(SqlCommandStore(store.engine), SqlCommandKeys(store.engine), store)
    now = _now_ms()
    prepared = []
    for i in range(200):
        device_id = f"spread-{uuid.uuid4().hex[:6]}-{i}"
        store.register_device(device_id, "smart_plug", now, tenant_id=DEFAULT_TENANT)
        prepared.append(service.prepare(DEFAULT_TENANT, device_id, "relay_on", {}, "test"))
    service.issue_many(prepared)
    dispatcher = Dispatcher(
        service,
        MqttEndpoint.from_url(mosquitto_url),
        Prefixes(canonical=f"t{uuid.uuid4().hex[:10]}"),
        release_spread_s=20.0,
    )
    dispatcher.start()
    try:
        assert dispatcher.wait_connected(5)

        def released_in_order() -> bool:
            states = [service.get(DEFAULT_TENANT, c.command_id) for c in prepared]
            return sum(c.state is CommandState.SENT for c in states) >= 1

        wait_until(released_in_order, 15, "the first release")
        states = [service.get(DEFAULT_TENANT, c.command_id) for c in prepared]
    finally:
        dispatcher.stop()
    sent = [c for c in states if c.state is CommandState.SENT]
    waiting = [c.next_attempt_ms for c in states if c.state is CommandState.QUEUED]
    assert len(sent) < 100
    assert waiting == sorted(waiting)  # released oldest first
    assert waiting[-1] - states[0].state_ms >= 15_000  # the last waits most of the 20 s


def test_smart_plug_topics_round_trip(rig: Rig) -> None:
    """The seed's plug: signed envelope on .../control, its status update completes it."""
    plug_id = f"sp-{uuid.uuid4().hex[:8]}"
    rig.store.register_device(plug_id, "smartplug", _now_ms(), tenant_id=DEFAULT_TENANT)
    model = SmartPlug(random.Random(3), rated_power_w=1000.0, mean_on_s=1e9, mean_off_s=1e9)
    model.set_relay(True)
    device = SimulatedDevice(plug_id, "smartplug", "1.0", model)
    rig.start()
    player = SmartPlugPlayer(rig.endpoint, rig.prefixes, device, rig._keys)
    try:
        answer = rig.api.post(
            f"/api/v1/devices/{plug_id}/command?wait=5",
            json={"command": "relay_off"},
            headers=AUTH,
        )
    finally:
        player.stop()
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["state"], body["result"]) == ("succeeded", "relay reported off"), body
    assert not model.relay_on
    assert [a["status"] for a in player.acks] == ["done"]  # the signature verified
    sent = json.loads(player.received[0])
    assert (sent["command"], sent["command_id"]) == ("relay_off", body["command_id"])
    latest = {v.metric: v.value for v in rig.store.latest_values([plug_id])[plug_id]}
    assert (latest["relay_state"], latest["power_w"]) == (0, 0)  # the status was stored


def test_tasmota_topics_round_trip(rig: Rig) -> None:
    """cmnd/{topic}/POWER down, stat/{topic}/RESULT up completes the command."""
    topic = f"tas-{uuid.uuid4().hex[:8]}"
    rig.store.register_device(topic, "tasmota", _now_ms(), tenant_id=DEFAULT_TENANT)
    rig.start()
    player = TasmotaPlayer(rig.endpoint, rig.prefixes, topic)
    try:
        answer = rig.api.post(
            f"/api/v1/devices/{topic}/commands?wait=5",
            json={"name": "relay_off"},
            headers=AUTH,
        )
    finally:
        player.stop()
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["state"], body["result"]) == ("succeeded", "relay reported off"), body
    assert player.received == [b"OFF"]
    assert not player.relay_on


class LosesFirstAck(CommandResponder):
    """A device whose first ack never arrives: Wattline dies before it does."""

    def __init__(self, rig: Rig) -> None:
        super().__init__([rig._device], rig._keys, rig.prefix)
        self.deliveries = 0
        self.first = threading.Event()

    def answer(self, device_id: str, payload: bytes) -> bytes | None:
        ack = super().answer(device_id, payload)  # verifies, executes once per command id
        self.deliveries += 1
        if self.deliveries == 1:
            self.first.set()
            return None
        return ack


def test_dispatcher_killed_between_send_and_ack_resends_and_the_device_runs_it_once(
    rig: Rig, mosquitto_url: str
) -> None:
    """SIGKILL the dispatcher's process after the send, before the ack: the restarted
    dispatcher sends the command again, the device answers from its memory of the
    command id without switching again, and the command ends succeeded."""
    responder = rig.responder = LosesFirstAck(rig)
    rig.start(dispatch=False)  # collector only; acks are recorded whoever dispatches
    rig.device_online()
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.commands.dispatcher_process",
            rig.store.engine.url.render_as_string(hide_password=False),
            mosquitto_url,
            rig.prefix,
        ],
        cwd=Path(__file__).parents[3],
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"connected\n"
        answer = rig.api.post(
            f"/api/v1/devices/{rig.plug_id}/commands", json={"name": "relay_off"}, headers=AUTH
        )
        command_id = answer.json()["command_id"]
        assert responder.first.wait(10), "the child dispatcher never sent the command"
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(10)
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    killed = rig.detail(command_id)
    assert (killed["state"], killed["attempts"]) == ("sent", 1)
    assert not rig.plug.relay_on  # the device did switch; only its ack was lost
    rig.start_dispatcher()
    wait_until(lambda: rig.detail(command_id)["state"] == "succeeded", 10, "the resend's ack")
    assert responder.deliveries == 2  # delivered again ...
    assert responder.executed == [(rig.plug_id, command_id)]  # ... executed once
    done = rig.detail(command_id)
    assert (done["attempts"], done["result"]) == (2, "relay off")
