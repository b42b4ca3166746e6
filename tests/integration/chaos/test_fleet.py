"""The fleet topology of deploy/compose.yml, from processes: one Mosquitto, two
`wattline collect` sharing the stream (MQTT 5 shared group), two `wattline serve`
API processes, PostgreSQL, Redis rate limits and an S3 archive (moto).

Kill one collector and one API process mid-stream: every reading is stored
exactly once, and the surviving API process answers for all of them.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from tests.integration.archive.conftest import S3Server
from tests.integration.chaos.conftest import LedgerFor
from tests.integration.chaos.fleet_topology import FAKE_AWS, TOKEN, fleet_processes
from tests.integration.chaos.harness import (
    assert_exactly_stored,
    tail,
    wait_collector_ready,
    wait_until,
)
from tests.integration.chaos.publisher import METRICS, ChaosPublisher, reading_messages
from tests.integration.chaos.servers import MosquittoServer

DEVICES = [f"f{i:02d}" for i in range(10)]
PER_DEVICE = 300  # 3,000 readings


@pytest.mark.integration
def test_two_collectors_and_two_apis_lose_nothing_when_one_of_each_dies(  # noqa: PLR0917
    chaos_broker: MosquittoServer,
    shared_database: str,
    ledger_for: LedgerFor,
    topic_prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in FAKE_AWS.items():
        monkeypatch.setenv(name, value)
    s3_server = S3Server()
    s3_server.start()
    try:
        run_fleet(chaos_broker, shared_database, ledger_for, topic_prefix, s3_server, tmp_path)
    finally:
        s3_server.stop()


def run_fleet(  # noqa: PLR0917 - the servers, then where to keep logs
    chaos_broker: MosquittoServer,
    shared_database: str,
    ledger_for: LedgerFor,
    topic_prefix: str,
    s3_server: S3Server,
    tmp_path: Path,
) -> None:
    fleet = fleet_processes(chaos_broker, shared_database, topic_prefix, s3_server, tmp_path)
    collectors, apis, api_ports = fleet.collectors, fleet.apis, fleet.api_ports
    ledger = ledger_for(shared_database)
    processes = fleet.processes
    for each in processes:
        each.start()
    try:
        for collector in collectors:
            wait_collector_ready(collector, ledger)

        def answers(port: int) -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        for port in api_ports:
            assert wait_until(lambda port=port: answers(port), 30), tail(apis[0].log())

        messages = reading_messages(topic_prefix, DEVICES, PER_DEVICE)
        publisher = ChaosPublisher("127.0.0.1", chaos_broker.port, messages, rate_per_s=1500)
        publisher.start()
        try:
            half = len(messages) * len(METRICS) // 2
            assert wait_until(lambda: ledger.sample_rows() >= half, 60), tail(collectors[0].log())
            collectors[0].kill()
            apis[0].kill()
            collectors[0].start()
            assert publisher.wait_all_acked(120), f"{len(publisher.unacked())} never acknowledged"
        finally:
            publisher.close()

        def diagnostics() -> str:
            return "\n".join(f"{p.log_path.name}:\n{tail(p.log())}" for p in processes)

        assert_exactly_stored(ledger, messages, diagnostics)
        # the surviving API process answers for every device, whichever collector stored it
        headers = {"Authorization": f"Bearer {TOKEN}"}
        survivor = f"http://127.0.0.1:{api_ports[1]}"
        for device in DEVICES:
            points = httpx.get(
                f"{survivor}/api/v1/devices/{device}/telemetry",
                params={"start": 0, "limit": 10_000},
                headers=headers,
                timeout=10,
            )
            assert points.status_code == 200, points.text
            assert len(points.json()["points"]) == PER_DEVICE
    finally:
        for each in processes:
            each.stop()
