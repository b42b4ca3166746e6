"""One `wattline collect` and two `wattline serve` over Redis: every client of every API
process gets each committed reading of its subscription exactly once, in order per
device; a client of another tenant gets nothing. The machine's Mosquitto, PostgreSQL
and Redis; a channel, topic prefix and devices of this test's own."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis
from redis.exceptions import RedisError
from tests.conftest import free_port, unavailable
from tests.integration.chaos.harness import CollectorProcess, Ledger, tail, wait_collector_ready
from tests.integration.chaos.publisher import ChaosPublisher, reading_messages
from websockets.sync.client import ClientConnection, connect

from wattline.ingest.sources.base import MqttEndpoint
from wattline.security.principal import Principal, PrincipalKind
from wattline.security.roles import Role
from wattline.security.service import build_identity
from wattline.storage.postgres import open_postgres_store

REDIS_URL = "redis://127.0.0.1:6379/0"
TOKEN = uuid.uuid4().hex + uuid.uuid4().hex
DEVICES = [f"live-{uuid.uuid4().hex[:6]}-{i}" for i in range(3)]
PER_DEVICE = 100


@pytest.fixture
def redis_url() -> str:
    try:
        Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except RedisError as exc:
        unavailable(f"no Redis at {REDIS_URL}: {exc}")
    return REDIS_URL


def other_tenants_key(database_url: str) -> str:
    """An API key of a tenant that owns none of the devices."""
    store = open_postgres_store(database_url)
    try:
        tenant = f"t-{uuid.uuid4().hex[:8]}"
        store.identity.ensure_tenant(tenant, "other", 0)
        identity = build_identity(store.identity, b"k" * 32)
        owner = Principal(PrincipalKind.BOOTSTRAP, "test", tenant, Role.OWNER, "test")
        return identity.api_keys.create(owner, "live test", Role.VIEWER).secret
    finally:
        store.close()


class Listener:
    """A WebSocket client on its own thread, keeping every reading it receives."""

    def __init__(self, url: str, token: str, devices: list[str] | None) -> None:
        self.ws: ClientConnection = connect(
            url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10
        )
        subscribe: dict[str, object] = {"type": "subscribe", "kinds": ["reading"]}
        if devices:
            subscribe["devices"] = devices
        self.ws.send(json.dumps(subscribe))
        answer = json.loads(self.ws.recv(timeout=10))
        assert answer["type"] == "subscribed", answer
        self.received: list[tuple[str, int]] = []
        self._thread = threading.Thread(target=self._run, name="live-listener")
        self._thread.start()

    def _run(self) -> None:
        for text in self.ws:
            message = json.loads(text)
            self.received.append((message["device_id"], message["seq"]))

    def close(self) -> None:
        self.ws.close()
        self._thread.join(10)


@pytest.fixture
def processes(
    tmp_path: Path, postgres_url: str, mosquitto_url: str, redis_url: str
) -> Iterator[tuple[CollectorProcess, list[int]]]:
    prefix = f"live{uuid.uuid4().hex[:8]}"
    common = {
        "WATTLINE_REDIS_URL": redis_url,
        "WATTLINE_LIVE_REDIS_CHANNEL": f"wattline:test:{prefix}",
        "WATTLINE_ADMIN_TOKEN": TOKEN,
        "WATTLINE_MQTT_PROTOCOL": "5",
    }

    def process(name: str, command: tuple[str, ...], extra: dict[str, str]) -> CollectorProcess:
        return CollectorProcess(
            mqtt_url=mosquitto_url,
            database_url=postgres_url,
            data_dir=tmp_path / name,
            topic_prefix=prefix,
            client_id=f"{name}-{prefix}",
            log_path=tmp_path / f"{name}.log",
            extra_env={**common, **extra},
            command=command,
        )

    ports = [free_port(), free_port()]
    collector = process("collector", ("collect",), {})
    apis = [
        process(f"api-{i}", ("serve",), {"WATTLINE_HTTP_PORT": str(port)})
        for i, port in enumerate(ports)
    ]
    everything = [collector, *apis]
    for each in everything:
        each.start()
    try:
        yield collector, ports
    finally:
        for each in everything:
            each.stop()
        for each in apis:  # a clean stop: no traceback in the API processes' logs
            assert "Traceback" not in each.log(), tail(each.log())


def ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(predicate: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_every_api_process_streams_every_committed_reading_once_in_order(
    processes: tuple[CollectorProcess, list[int]], postgres_url: str
) -> None:
    collector, ports = processes
    ledger = Ledger(postgres_url)
    try:
        # generous: three Python processes starting at once on a busy machine
        wait_collector_ready(collector, ledger, timeout_s=120)
    finally:
        ledger.close()
    for port in ports:
        wait_until(lambda port=port: ready(port), 120, f"the API on port {port}")
    key = other_tenants_key(postgres_url)
    for device in DEVICES:  # registered first, so the clients may subscribe to them by id
        created = httpx.post(
            f"http://127.0.0.1:{ports[0]}/api/v1/devices",
            json={"device_id": device},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        assert created.status_code == 201, created.text
    listeners = [Listener(f"ws://127.0.0.1:{port}/api/v1/ws", TOKEN, DEVICES) for port in ports]
    outsider = Listener(f"ws://127.0.0.1:{ports[0]}/api/v1/ws", key, None)
    messages = reading_messages(collector.topic_prefix, DEVICES, PER_DEVICE)
    endpoint = MqttEndpoint.from_url(collector.mqtt_url)
    publisher = ChaosPublisher(endpoint.host, endpoint.port, messages, rate_per_s=1000)
    publisher.start()
    try:
        assert publisher.wait_all_acked(60), f"{len(publisher.unacked())} never acknowledged"
        expected = len(DEVICES) * PER_DEVICE
        for listener in listeners:
            wait_until(
                lambda listener=listener: len(listener.received) >= expected,
                60,
                f"{expected} readings over the WebSocket",
            )
        time.sleep(0.3)  # anything extra (a duplicate) would arrive by now
    finally:
        publisher.close()
        for listener in [*listeners, outsider]:
            listener.close()
    for listener in listeners:
        assert len(listener.received) == expected  # nothing twice
        for device in DEVICES:
            seqs = [seq for d, seq in listener.received if d == device]
            assert seqs == list(range(PER_DEVICE))  # all, in order
    assert outsider.received == []
