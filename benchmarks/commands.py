"""Commands: round trip through Mosquitto, bulk dispatch, and pending commands' cost to ingest.

In one process, on SQLite in a temporary folder, against the Mosquitto on
127.0.0.1:1883 (or --mqtt-url): a collector, the command dispatcher, the API
(in-process client) and simulated plugs answering with signed-envelope checks.

    python benchmarks/commands.py [--devices 100] [--rounds 300] [--bulk 1000] [--messages 20000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import update

from wattline.api.app import create_app
from wattline.api.services import ApiServices
from wattline.archive.folder import FolderArchive
from wattline.commands.dispatcher import Dispatcher
from wattline.commands.downlinks import Prefixes
from wattline.commands.keys import SqlCommandKeys
from wattline.commands.service import CommandService
from wattline.commands.store import SqlCommandStore
from wattline.ingest.collector import Collector
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
from wattline.simulator.commands import CommandResponder
from wattline.simulator.fleet import FleetPublisher, SimulatedDevice, telemetry_payload
from wattline.simulator.models import SmartPlug
from wattline.storage import command_schema, schema
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore
from wattline.storage.sqlite import open_sqlite_store

AUTH = {"Authorization": "Bearer bench"}
# Alternating ingest runs without and with pending commands.
PAIRS = 3


@dataclass
class Bench:
    store: SqlStore
    service: CommandService
    endpoint: MqttEndpoint
    prefix: str
    api: TestClient
    committed: list[int]  # readings committed so far, counted by the listener


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mqtt-url", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--bulk", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=20_000)
    args = parser.parse_args()
    endpoint = MqttEndpoint.from_url(args.mqtt_url)
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory() as tmp:
        store = open_sqlite_store(Path(tmp) / "wattline.db")
        service = CommandService(SqlCommandStore(store.engine), SqlCommandKeys(store.engine), store)
        dispatcher = Dispatcher(service, endpoint, Prefixes(canonical=prefix))
        service.wake = dispatcher.wake
        dispatcher.start()
        dispatcher.wait_connected(5)
        committed = [0]

        def listener(event: Committed) -> None:
            committed[0] += len(event.readings)
            dispatcher.on_committed(event)

        collector = _collector(store, endpoint, prefix, Path(tmp), listener)
        api = TestClient(
            create_app(
                ApiServices(
                    store=store,
                    admin_token="bench",
                    registry=CollectorRegistry(),
                    offline_after_ms=120_000,
                    commands=service,
                )
            )
        )
        bench = Bench(store, service, endpoint, prefix, api, committed)
        rows = []
        try:
            rows += _round_trip(bench, args.devices, args.rounds)
            rows += _bulk(bench, args.bulk)
            rows += _ingest_cost(bench, args.messages)
        finally:
            api.close()
            collector.stop()
            dispatcher.stop()
            store.close()
    print("| measure | value |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


def _collector(
    store: SqlStore, endpoint: MqttEndpoint, prefix: str, tmp: Path, listener: OnCommitted
) -> Collector:
    metrics = IngestMetrics(CollectorRegistry())
    committer = Committer(
        store,
        FolderArchive(tmp / "archive"),
        InterpretConfig(topic_prefix=prefix),
        metrics,
        auto_register=True,
        on_committed=listener,
    )
    topics = [f"{prefix}/+/{kind}" for kind in ("telemetry", "hello", "status", "command/ack")]

    def make_source(deliver: DeliverFn, _deliver_many: DeliverManyFn) -> MessageSource:
        return open_source(endpoint, f"bench-{prefix}", topics, deliver, SessionOptions())

    collector = Collector(make_source, committer, metrics)
    collector.start()
    collector.wait_connected(5)
    return collector


def _round_trip(bench: Bench, count: int, rounds: int) -> list[tuple[str, str]]:
    store, service, endpoint, prefix = bench.store, bench.service, bench.endpoint, bench.prefix
    devices = [
        SimulatedDevice(f"plug-{i}", "smart_plug", "3.1.2", SmartPlug(random.Random(i)))
        for i in range(count)
    ]
    for device in devices:
        store.register_device(device.device_id, "smart_plug", _now_ms(), tenant_id=DEFAULT_TENANT)

    def keys() -> list[tuple[str, str]]:
        return [(k.key_id, k.public_key) for k in service.keys.public_keys(DEFAULT_TENANT)]

    # The devices are another process, as real ones are: in this one their
    # synchronized telemetry round (100 model steps and publishes each second)
    # would compete with the API, dispatcher and collector for the GIL and put
    # a burst into every fiftieth round trip that no deployment has.
    service.keys.signing_key(DEFAULT_TENANT)  # the key the devices are provisioned with
    stop = multiprocessing.get_context("spawn").Event()
    fleet = multiprocessing.get_context("spawn").Process(
        target=_run_fleet, args=(endpoint.host, endpoint.port, prefix, count, keys(), stop)
    )
    fleet.start()
    try:
        _wait(
            lambda: all(
                (d := store.get_device(x.device_id, tenant_id=DEFAULT_TENANT)) is not None
                and d.state.value == "online"
                for x in devices
            ),
            20,
        )
        latencies = []
        for i in range(rounds):
            device = devices[i % len(devices)]
            started = time.perf_counter()
            answer = bench.api.post(
                f"/api/v1/devices/{device.device_id}/commands?wait=5",
                json={"name": "ping"},
                headers=AUTH,
            )
            latencies.append((time.perf_counter() - started) * 1000)
            assert answer.json()["state"] == "succeeded", answer.text
    finally:
        stop.set()
        fleet.join(15)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return [
        (
            f"round trip, API call -> ack committed ({count} devices, {rounds} pings), p50",
            f"{statistics.median(latencies):.1f} ms",
        ),
        ("round trip p99", f"{p99:.1f} ms"),
    ]


def _run_fleet(  # noqa: PLR0913, PLR0917 - what a fleet process needs
    host: str,
    port: int,
    prefix: str,
    count: int,
    public_keys: list[tuple[str, str]],
    stop: threading.Event,
) -> None:
    devices = [
        SimulatedDevice(f"plug-{i}", "smart_plug", "3.1.2", SmartPlug(random.Random(i)))
        for i in range(count)
    ]
    responder = CommandResponder(devices, lambda: public_keys, prefix)
    FleetPublisher(
        host, port, devices, interval_s=1.0, topic_prefix=prefix, commands=responder
    ).run(stop)


def _bulk(bench: Bench, count: int) -> list[tuple[str, str]]:
    store, service, api = bench.store, bench.service, bench.api
    for i in range(count):
        store.register_device(f"bulk-{i}", "meter", _now_ms(), ["bulk"], tenant_id=DEFAULT_TENANT)
    started = time.perf_counter()
    answer = api.post(
        "/api/v1/commands/bulk",
        json={"target": {"tag": "bulk"}, "name": "ping", "rate_per_s": 10_000},
        headers=AUTH,
    )
    issued = answer.json()["issued"]
    api_s = time.perf_counter() - started
    _wait(lambda: all(service.get(DEFAULT_TENANT, c).attempts > 0 for c in issued[-1:]), 60)
    sent_s = time.perf_counter() - started
    return [
        (f"bulk command to {len(issued)} devices: API answer", f"{api_s:.2f} s"),
        (f"bulk command to {len(issued)} devices: all sent", f"{sent_s:.2f} s"),
    ]


def _ingest_cost(bench: Bench, messages: int) -> list[tuple[str, str]]:
    store, service, endpoint, prefix = bench.store, bench.service, bench.endpoint, bench.prefix
    committed = bench.committed
    away = [f"away-{i}" for i in range(1000)]
    for device_id in away:
        store.register_device(device_id, "meter", _now_ms(), tenant_id=DEFAULT_TENANT)
        command = service.issue(DEFAULT_TENANT, device_id, "ping", {}, "bench")
        service.store.postpone(command, _now_ms())
    _mark_offline(store, away)
    # Alternating runs, the 1,000 commands pending in every second one: a single
    # pair of 8 s runs differed by up to 40 % either way on an idle machine.
    rates: dict[bool, list[float]] = {False: [], True: []}
    for pending in (False, True) * PAIRS:
        _set_pending(store, away, pending=pending)
        rates[pending].append(_ingest_rate(endpoint, prefix, committed, messages))
    baseline, with_pending = statistics.median(rates[False]), statistics.median(rates[True])
    return [
        (
            f"ingest, {messages} readings, no pending commands (median of {PAIRS})",
            f"{baseline:,.0f} msg/s",
        ),
        ("ingest with 1,000 pending commands (offline devices)", f"{with_pending:,.0f} msg/s"),
        ("change", f"{(with_pending - baseline) / baseline * 100:+.1f} %"),
    ]


def _set_pending(store: SqlStore, device_ids: list[str], *, pending: bool) -> None:
    """The away devices' commands queued (pending) or cancelled (not the dispatcher's)."""
    with store.engine.begin() as conn:
        conn.execute(
            update(command_schema.commands)
            .where(command_schema.commands.c.device_id.in_(device_ids))
            .values(state="queued" if pending else "cancelled")
        )


def _mark_offline(store: SqlStore, device_ids: list[str]) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            update(schema.devices)
            .where(schema.devices.c.device_id.in_(device_ids))
            .values(state="offline")
        )


def _ingest_rate(endpoint: MqttEndpoint, prefix: str, committed: list[int], messages: int) -> float:
    """Readings committed per second while ``messages`` are published as fast as possible.

    The rate is over what was committed: Mosquitto drops what exceeds a slow
    subscriber's queue (max_queued_messages), so the count may stop short."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{uuid.uuid4().hex}")
    client.max_inflight_messages_set(100)
    client.connect(endpoint.host, endpoint.port)
    client.loop_start()
    before = committed[0]
    run = uuid.uuid4().hex[:6]
    base_ms = _now_ms() - messages
    started = time.perf_counter()
    for i in range(messages):
        payload = telemetry_payload(i // 50, base_ms + i, {"power_w": float(i % 100)})
        client.publish(f"{prefix}/ingest-{i % 50}-{run}/telemetry", payload, qos=1)
    last_count, last_change = committed[0], time.perf_counter()
    while committed[0] - before < messages and time.perf_counter() - last_change < 3:
        time.sleep(0.01)
        if committed[0] != last_count:
            last_count, last_change = committed[0], time.perf_counter()
    client.disconnect()
    client.loop_stop()
    return (last_count - before) / (last_change - started)


def _wait(predicate: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not reached")
        time.sleep(0.01)


if __name__ == "__main__":
    main()
