"""The broker restarted mid-stream: publishers re-send, the collector resumes its session."""

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
from tests.integration.chaos.servers import MOSQUITTO_SAVE_ERROR, MosquittoServer

DEVICES = [f"b{i:02d}" for i in range(20)]
PER_DEVICE = 300  # 6,000 readings
# Restart once a share of the stream is stored, so each lands mid-stream.
RESTART_AT = (0.25, 0.6)
DOWN_S = 1.0


@pytest.mark.integration
def test_broker_restarted_mid_stream_stores_every_reading_once(
    durable_broker: MosquittoServer,
    shared_database: str,
    make_collector: MakeCollector,
    ledger_for: LedgerFor,
    topic_prefix: str,
) -> None:
    ledger = ledger_for(shared_database)
    collector = make_collector(durable_broker.url, shared_database)
    collector.start()
    wait_collector_ready(collector, ledger)

    messages = reading_messages(topic_prefix, DEVICES, PER_DEVICE)
    publisher = ChaosPublisher("127.0.0.1", durable_broker.port, messages, rate_per_s=1500)
    publisher.start()
    acked_at_restart: list[int] = []
    try:
        for share in RESTART_AT:
            target = int(share * len(messages) * len(METRICS))
            assert wait_until(lambda t=target: ledger.sample_rows() >= t, 60), tail(collector.log())
            acked_at_restart.append(publisher.acked)
            # SIGTERM: Mosquitto saves its sessions and queues on the way out.
            # SIGKILL is not tested here; see "Failure behaviour" in docs/operations.md.
            durable_broker.stop()
            time.sleep(DOWN_S)
            durable_broker.start()
        assert publisher.wait_all_acked(120), f"{len(publisher.unacked())} never acknowledged"
    finally:
        publisher.close()

    def diagnostics() -> str:
        return (
            f"publisher: {acked_at_restart} acknowledged at the restarts, "
            f"{publisher.connects} connects\n"
            f"collector log:\n{tail(collector.log())}\n"
            f"broker log:\n{tail(durable_broker.log())}"
        )

    assert_exactly_stored(ledger, messages, diagnostics)
    assert acked_at_restart[-1] < len(messages), diagnostics()
    assert publisher.connects == 1 + len(RESTART_AT), diagnostics()
    assert MOSQUITTO_SAVE_ERROR not in durable_broker.log(), diagnostics()
    assert collector.running(), diagnostics()
    assert "Traceback" not in collector.log(), diagnostics()
    assert collector.stop() == 0, diagnostics()
