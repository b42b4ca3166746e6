"""10,000 hostile messages in a valid stream: valid readings stored, hostile ones quarantined."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from tests.integration.chaos.conftest import LedgerFor, MakeCollector
from tests.integration.chaos.harness import (
    assert_exactly_stored,
    tail,
    wait_collector_ready,
    wait_until,
)
from tests.integration.chaos.hostile import HostileFleet
from tests.integration.chaos.publisher import ChaosPublisher, Outgoing, reading_messages
from tests.integration.chaos.servers import MosquittoServer

SEED = 20261125
HOSTILE = 10_000
DEVICES = [f"v{i:02d}" for i in range(20)]
PER_DEVICE = 250  # 5,000 valid readings, then one more round after the last hostile message


def interleave(valid: list[Outgoing], hostile: list[Outgoing], seed: int) -> list[Outgoing]:
    """Hostile messages at random places; the valid ones keep their order."""
    slots = [True] * len(valid) + [False] * len(hostile)
    random.Random(seed).shuffle(slots)
    valid_iter, hostile_iter = iter(valid), iter(hostile)
    return [next(valid_iter) if is_valid else next(hostile_iter) for is_valid in slots]


@pytest.mark.integration
def test_hostile_payloads_are_quarantined_and_valid_readings_stored(
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

    hostile, expected_reasons = HostileFleet(topic_prefix, DEVICES, SEED).generate(HOSTILE)
    valid = reading_messages(topic_prefix, DEVICES, PER_DEVICE)
    # A last round after everything hostile: the collector must still be working then.
    last_round = reading_messages(topic_prefix, DEVICES, 1, first_seq=PER_DEVICE)
    messages = interleave(valid, hostile, SEED) + last_round
    publisher = ChaosPublisher("127.0.0.1", chaos_broker.port, messages, rate_per_s=4000)
    publisher.start()
    try:
        assert publisher.wait_all_acked(120), f"{len(publisher.unacked())} never acknowledged"
    finally:
        publisher.close()

    def diagnostics() -> str:
        stored = Counter(reason for reason, _ in ledger.quarantine_reasons())
        return (
            f"quarantined by reason: {dict(stored)}\nexpected: {dict(expected_reasons)}\n"
            f"collector log:\n{tail(collector.log())}\nbroker log:\n{tail(chaos_broker.log())}"
        )

    assert_exactly_stored(ledger, messages, diagnostics)
    assert wait_until(lambda: ledger.quarantined() >= HOSTILE, 60), diagnostics()
    quarantined = ledger.quarantine_reasons()
    assert len(quarantined) == HOSTILE, diagnostics()
    assert all(reason and detail for reason, detail in quarantined), diagnostics()
    assert Counter(reason for reason, _ in quarantined) == expected_reasons, diagnostics()
    assert collector.proc is not None
    assert collector.proc.poll() is None, diagnostics()
    assert "Traceback" not in collector.log(), diagnostics()
    assert collector.stop() == 0, diagnostics()
