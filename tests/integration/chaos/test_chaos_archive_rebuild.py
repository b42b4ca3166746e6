"""The raw archive as the source of truth: the simulated fleet publishes through a real
Mosquitto into `wattline collect` for a few seconds; the database is then dropped and
rebuilt by `wattline archive replay` alone. Every device's counts, sums, rollups, latest
values and sequence state come back equal."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from tests.integration.chaos.conftest import LedgerFor, MakeCollector
from tests.integration.chaos.harness import tail, wait_collector_ready
from tests.integration.chaos.servers import MosquittoServer
from tests.integration.conftest import POSTGRES_ADMIN_URL
from tests.integration.fingerprint import fingerprint
from typer.testing import CliRunner

from wattline.cli.main import app
from wattline.ingest.sources.base import MqttEndpoint
from wattline.simulator import SIMULATE_ID_PREFIX, FleetPublisher, build_fleet
from wattline.storage.postgres import open_postgres_store, psycopg_url

END_DEVICE = "chaos-end"


def what_the_store_holds(url: str, since_ms: int) -> dict[str, object]:
    store = open_postgres_store(url)
    try:
        devices = sorted(store.all_device_ids())
        return {
            "devices": devices,
            # whole UTC days around the run (one, or two across midnight)
            "prints": fingerprint(store, devices, since_ms, int(time.time() * 1000)),
        }
    finally:
        store.close()


def drop_and_create(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(psycopg_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {name}"))
    finally:
        admin.dispose()


def publish_end_marker(mqtt_url: str, topic_prefix: str, ledger_known: object) -> None:
    """A status from a device of its own, published after the fleet's last message: once it
    is stored, everything the broker took before it is committed too (one collector,
    messages delivered in order)."""
    endpoint = MqttEndpoint.from_url(mqtt_url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"end-{topic_prefix}")
    client.connect(endpoint.host, endpoint.port)
    client.loop_start()
    try:
        deadline = time.monotonic() + 60
        while not ledger_known(END_DEVICE):  # type: ignore[operator]
            assert time.monotonic() < deadline, "the end marker was never stored"
            client.publish(
                f"{topic_prefix}/{END_DEVICE}/status", b"online", qos=1
            ).wait_for_publish(5)
            time.sleep(0.2)
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.mark.integration
def test_a_dropped_database_is_rebuilt_equal_from_the_archive(  # noqa: PLR0917 - fixtures
    chaos_broker: MosquittoServer,
    shared_database: str,
    make_collector: MakeCollector,
    ledger_for: LedgerFor,
    topic_prefix: str,
    tmp_path: Path,
) -> None:
    ledger = ledger_for(shared_database)
    collector = make_collector(chaos_broker.url, shared_database)
    collector.start()
    wait_collector_ready(collector, ledger)
    started_ms = int(time.time() * 1000)

    # The simulated fleet (every protocol it speaks), as `wattline simulate` runs it,
    # in this process: a second Python start costs more than the run on a busy machine.
    endpoint = MqttEndpoint.from_url(chaos_broker.url)
    publisher = FleetPublisher(
        endpoint.host,
        endpoint.port,
        build_fleet(8, 1, id_prefix=SIMULATE_ID_PREFIX),
        interval_s=0.05,
        topic_prefix=topic_prefix,
    )
    sent = publisher.run(threading.Event(), max_rounds=40)
    assert sent >= 8 * 40, sent
    publish_end_marker(chaos_broker.url, topic_prefix, ledger.device_known)
    assert collector.stop() == 0, tail(collector.log())
    ledger.close()

    before = what_the_store_holds(shared_database, started_ms)
    readings = sum(len(p.points) for p in before["prints"].values())  # type: ignore[attr-defined]
    assert len(before["devices"]) >= 8 + 2, before["devices"]  # the fleet, the probes
    # the fleet's readings are in (a device speaking per-metric topics may merge some)
    assert readings >= 8 * 40 / 2, readings

    drop_and_create(shared_database)
    result = CliRunner().invoke(
        app,
        [
            "archive",
            "replay",
            "--auto-register",
            "--data-dir",
            str(tmp_path / "data"),
            "--database-url",
            shared_database,
        ],
        env={"WATTLINE_TOPIC_PREFIX": topic_prefix},
    )
    assert result.exit_code == 0, result.output
    after = what_the_store_holds(shared_database, started_ms)
    assert after["devices"] == before["devices"]
    for device in before["devices"]:  # type: ignore[attr-defined]
        assert after["prints"][device] == before["prints"][device], device  # type: ignore[index]
