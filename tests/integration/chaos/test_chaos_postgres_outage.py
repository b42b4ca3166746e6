"""PostgreSQL stopped for 10 s mid-stream: the collector waits, then stores every reading once."""

from __future__ import annotations

import time

import pytest
from tests.integration.chaos.conftest import LedgerFor, MakeCollector
from tests.integration.chaos.harness import (
    assert_exactly_stored,
    tail,
    wait_collector_ready,
    wait_until,
)
from tests.integration.chaos.publisher import METRICS, ChaosPublisher, reading_messages
from tests.integration.chaos.servers import MosquittoServer, PostgresCluster

OUTAGE_S = 10
RATE_PER_S = 600
FIRST_DEVICES = [f"p{i:02d}" for i in range(10)]
# Devices that first speak while the database is down: the collector must look
# them up in the registry then, which fails like any commit does.
LATE_DEVICES = [f"q{i:02d}" for i in range(10)]


@pytest.mark.integration
def test_postgres_outage_delays_but_stores_every_reading_once(  # noqa: PLR0917 - fixtures
    chaos_broker: MosquittoServer,
    private_postgres: PostgresCluster,
    private_database: str,
    make_collector: MakeCollector,
    ledger_for: LedgerFor,
    topic_prefix: str,
) -> None:
    ledger = ledger_for(private_database)
    collector = make_collector(chaos_broker.url, private_database)
    collector.start()
    wait_collector_ready(collector, ledger)

    # The first devices, a lull, then everyone for ~17 s: the outage starts in
    # the lull, so the first message the collector gets while the database is
    # down comes from a device it has never seen.
    first = reading_messages(topic_prefix, FIRST_DEVICES, 200)
    messages = first + reading_messages(
        topic_prefix, LATE_DEVICES + FIRST_DEVICES, 500, first_seq=200
    )
    publisher = ChaosPublisher(
        "127.0.0.1", chaos_broker.port, messages, rate_per_s=RATE_PER_S, hold_at=len(first)
    )
    publisher.start()
    try:
        first_rows = len(first) * len(METRICS)
        assert wait_until(lambda: ledger.sample_rows() >= first_rows, 30), tail(collector.log())
        assert publisher.holding.is_set()
        private_postgres.stop()
        try:
            publisher.release()
            time.sleep(OUTAGE_S)
        finally:
            private_postgres.start()
        restarted_at = publisher.acked
        assert publisher.wait_all_acked(120), f"{len(publisher.unacked())} never acknowledged"
    finally:
        publisher.close()

    def diagnostics() -> str:
        return (
            f"published {len(first)} before the outage, {restarted_at} by its end\n"
            f"collector log:\n{tail(collector.log())}\n"
            f"postgres log:\n{tail(private_postgres.log(), 15)}"
        )

    assert_exactly_stored(ledger, messages, diagnostics)
    # The outage was mid-stream, and the collector noticed it.
    assert len(first) < restarted_at < len(messages), diagnostics()
    assert "store unavailable, will retry" in collector.log(), diagnostics()
    assert collector.running(), diagnostics()
    assert "Traceback" not in collector.log(), diagnostics()
    assert collector.stop() == 0, diagnostics()
