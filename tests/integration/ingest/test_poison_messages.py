"""A message the database refuses is quarantined alone; the collector and the rest go on.

The refusal is the database's own (a trigger on SQLite, a CHECK constraint on
PostgreSQL), standing in for whatever a future validation gap lets through:
before the collector isolated culprits, one such message stopped ingest for
good, since it was never acknowledged and the broker redelivered it forever.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import orjson
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from tests.collector_fakes import FakeSource, SourceFactory

from wattline.archive.folder import FolderArchive
from wattline.ingest.collector import BatchPolicy, Collector
from wattline.ingest.committer import Committer
from wattline.ingest.interpret import InterpretConfig
from wattline.ingest.sources.base import Delivery
from wattline.model.messages import InboundMessage
from wattline.observability.metrics import IngestMetrics
from wattline.storage.sql import SqlStore

T0 = 1_764_057_600_000
REFUSED_VALUE = 666.0


def refuse_value(store: SqlStore, value: float | None) -> None:
    """Make the database refuse samples of `value` (None: every sample)."""
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "sqlite":
            when = "" if value is None else f" WHEN NEW.value = {value}"
            conn.execute(
                text(
                    f"CREATE TRIGGER refuse_value BEFORE INSERT ON sample_rows{when}"
                    " BEGIN SELECT RAISE(ABORT, 'value refused by a test trigger'); END"
                )
            )
            return
        test = "true" if value is None else f"NEW.value = {value}"
        conn.execute(
            text(
                "CREATE OR REPLACE FUNCTION refuse_value() RETURNS trigger AS $$"
                f" BEGIN IF {test} THEN RAISE EXCEPTION 'value refused by a test trigger'"
                " USING ERRCODE = 'numeric_value_out_of_range'; END IF; RETURN NEW; END"
                " $$ LANGUAGE plpgsql"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER refuse_value BEFORE INSERT ON sample_rows"
                " FOR EACH ROW EXECUTE FUNCTION refuse_value()"
            )
        )


def allow_values(store: SqlStore) -> None:
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER IF EXISTS refuse_value"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS refuse_value ON sample_rows"))


@pytest.fixture
def refusing(store: SqlStore) -> Iterator[SqlStore]:
    """The store, refusing REFUSED_VALUE until the test or its end allows it again."""
    refuse_value(store, REFUSED_VALUE)
    yield store
    allow_values(store)


def start(
    store: SqlStore, tmp_path: Path, queued: Sequence[InboundMessage] = ()
) -> tuple[Collector, FakeSource, CollectorRegistry]:
    """A running collector; `queued` are delivered before it starts, so they form one batch."""
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    committer = Committer(
        store, FolderArchive(tmp_path / "archive"), InterpretConfig(), metrics, auto_register=True
    )
    make_source = SourceFactory()
    collector = Collector(make_source, committer, metrics, BatchPolicy(max_wait_s=0.2))
    for mid, message in enumerate(queued, start=1):
        make_source.source.deliver(message, Delivery(mid=mid, qos=1, generation=1))
    collector.start()
    return collector, make_source.source, registry


def telemetry(device: str, seq: int, value: float) -> InboundMessage:
    body = {"seq": seq, "ts": T0 + seq * 1000, "metrics": {"power_w": value}}
    return InboundMessage(f"iot/{device}/telemetry", orjson.dumps(body), T0 + 60_000)


def wait_acked(source: FakeSource, count: int, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while len(source.acked) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(source.acked) == count, source.acked


def test_a_refused_message_is_quarantined_and_the_rest_of_its_batch_stored(
    refusing: SqlStore, tmp_path: Path
) -> None:
    store = refusing
    collector, source, registry = start(store, tmp_path)
    poison = telemetry("meter-2", 0, REFUSED_VALUE)
    good = [telemetry("meter-1", seq, float(seq)) for seq in range(40)]
    messages = [*good[:17], poison, *good[17:]]
    try:
        for mid, message in enumerate(messages, start=1):
            source.deliver(message, Delivery(mid=mid, qos=1, generation=1))
        wait_acked(source, len(messages))
        assert collector.status().running
        assert not collector.failed.is_set()
        # and it keeps going: readings after the poison are stored too
        source.deliver(telemetry("meter-1", 40, 40.0), Delivery(mid=99, qos=1, generation=1))
        wait_acked(source, len(messages) + 1)
    finally:
        collector.stop(timeout_s=5)

    assert len(store.raw_points("meter-1", T0, T0 + 100_000, None, 1000)) == 41
    assert store.raw_points("meter-2", T0, T0 + 100_000, None, 1000) == []
    [quarantined] = store.quarantine(10)
    assert quarantined.reason == "store_rejected"
    assert quarantined.payload == poison.payload
    assert quarantined.topic == "iot/meter-2/telemetry"
    assert "refuse" in quarantined.detail
    assert (
        registry.get_sample_value("wattline_ingest_quarantined_total", {"reason": "store_rejected"})
        == 1
    )


def test_a_message_quarantined_by_the_store_can_be_replayed_once_it_fits(
    refusing: SqlStore, tmp_path: Path
) -> None:
    store = refusing
    collector, source, _ = start(store, tmp_path)
    try:
        source.deliver(telemetry("meter-3", 0, REFUSED_VALUE), Delivery(1, 1, 1))
        wait_acked(source, 1)
        allow_values(store)
        report = collector.committer.replay(store.quarantine(10))
    finally:
        collector.stop(timeout_s=5)
    assert len(report.accepted) == 1
    assert store.quarantine(10) == []
    [point] = store.raw_points("meter-3", T0, T0 + 1000, None, 10)
    assert point.metrics == {"power_w": REFUSED_VALUE}


def test_a_store_that_refuses_everything_stops_the_collector_without_acknowledging(
    store: SqlStore, tmp_path: Path
) -> None:
    refuse_value(store, None)
    try:
        queued = [telemetry("meter-4", seq, 1.0) for seq in range(5)]
        collector, source, _ = start(store, tmp_path, queued)
        try:
            assert collector.failed.wait(20)
        finally:
            collector.stop(timeout_s=5)
    finally:
        allow_values(store)
    # a schema fault is not the messages' fault: none is quarantined, none acknowledged
    assert source.acked == []
    assert store.quarantine(10) == []


def test_text_no_database_holds_is_rejected_or_quarantined_never_fatal(
    store: SqlStore, tmp_path: Path
) -> None:
    hostile = [
        # NUL and a lone surrogate in a hello's text, and in a quarantine detail
        InboundMessage("iot/h1/hello", b'{"firmware": "1.0\\u0000"}', T0),
        InboundMessage("iot/h2/hello", b'{"type": "\\ud800"}', T0),
        InboundMessage("iot/h3/hello", b'{"capabilities": ["relay\\u0000"]}', T0),
        InboundMessage("iot/h4/telemetry", b'{"ts": 1, "metrics": {"p": "\\u0000\\ud800"}}', T0),
        InboundMessage("iot/h5/telemetry\0", b"{}", T0),
    ]
    collector, source, _ = start(store, tmp_path, hostile)
    try:
        wait_acked(source, len(hostile))
        assert not collector.failed.is_set()
    finally:
        collector.stop(timeout_s=5)
    assert {q.payload for q in store.quarantine(10)} == {m.payload for m in hostile}
