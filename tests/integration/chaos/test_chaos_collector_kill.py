"""SIGKILL the collector three times mid-stream: every reading is stored exactly once."""

from __future__ import annotations

import pytest
from tests.integration.chaos.conftest import LedgerFor, MakeCollector
from tests.integration.chaos.harness import (
    assert_exactly_stored,
    tail,
    wait_collector_ready,
    wait_until,
)
from tests.integration.chaos.publisher import METRICS, ChaosPublisher, reading_messages
from tests.integration.chaos.servers import MosquittoServer

DEVICES = [f"k{i:02d}" for i in range(20)]
PER_DEVICE = 1000  # 20,000 readings
KILLS = 3


@pytest.mark.integration
def test_collector_killed_three_times_stores_every_reading_once(
    chaos_broker: MosquittoServer,
    shared_database: str,
    make_collector: MakeCollector,
    ledger_for: LedgerFor,
    topic_prefix: str,
) -> None:
    ledger = ledger_for(shared_database)
    collector = make_collector(chaos_broker.url, shared_database)
    collector.start()
    wait_collector_ready(collector, ledger)

    messages = reading_messages(topic_prefix, DEVICES, PER_DEVICE)
    publisher = ChaosPublisher("127.0.0.1", chaos_broker.port, messages, rate_per_s=2500)
    publisher.start()
    rows_at_kill: list[int] = []
    try:
        for kill in range(KILLS):
            # Kill only once this incarnation has committed a share of the stream,
            # so every kill lands on a collector that is busy committing.
            target = (kill + 1) * len(messages) * len(METRICS) // (KILLS + 1)
            reached = wait_until(lambda t=target: ledger.sample_rows() >= t, 60)
            assert reached, f"collector stalled before kill {kill + 1}:\n{tail(collector.log())}"
            collector.kill()
            rows_at_kill.append(ledger.sample_rows())
            collector.start()
        assert publisher.wait_all_acked(120), f"{len(publisher.unacked())} never acknowledged"
    finally:
        publisher.close()

    def diagnostics() -> str:
        return (
            f"rows at each kill: {rows_at_kill}; collector starts: {collector.starts}\n"
            f"collector log:\n{tail(collector.log())}\nbroker log:\n{tail(chaos_broker.log())}"
        )

    assert_exactly_stored(ledger, messages, diagnostics)
    # Every kill happened mid-stream, not after the last reading was in.
    assert rows_at_kill[-1] < len(messages) * len(METRICS), diagnostics()
    assert collector.running(), diagnostics()
    assert "Traceback" not in collector.log(), diagnostics()
    assert collector.stop() == 0, diagnostics()
