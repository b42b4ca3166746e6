"""Messages at and around the edge of every validated range, through the whole ingest path.

The property: the collector keeps running, acknowledges every message, and each
message is either stored or quarantined with its raw bytes. It runs against
both stores, since what one database holds the other may refuse (the seq of
2^63-1 that SQLite could not hold once stopped ingest for good).
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from tests.collector_fakes import SourceFactory

from wattline.archive.folder import FolderArchive
from wattline.ingest.collector import BatchPolicy, Collector
from wattline.ingest.committer import Committer
from wattline.ingest.interpret import InterpretConfig
from wattline.ingest.sources.base import Delivery
from wattline.model.messages import InboundMessage
from wattline.observability.metrics import IngestMetrics
from wattline.protocols.timestamps import EARLIEST_MS, LATEST_MS
from wattline.protocols.validation import MAX_ABS_VALUE, Limits
from wattline.storage.sql import SqlStore

NOW_MS = int(time.time() * 1000)
SKEW_MS = Limits().max_future_skew_ms
_devices = itertools.count()

SEQS = st.sampled_from([None, 0, 1, 2**63 - 3, 2**63 - 2, 2**63 - 1, 2**63, -1, 2**64])
TIMES = st.sampled_from(
    [
        NOW_MS,
        EARLIEST_MS,
        EARLIEST_MS - 1,
        NOW_MS + SKEW_MS,
        NOW_MS + SKEW_MS + 1,
        LATEST_MS - 1,
        LATEST_MS,
        -(2**63),
        2**63,
        "1999-12-31T23:59:59.999Z",
        "2000-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
    ]
)
VALUES = st.one_of(
    st.sampled_from(
        [
            0.0,
            -0.0,
            5e-324,
            -5e-324,
            2.2250738585072014e-308,
            MAX_ABS_VALUE,
            -MAX_ABS_VALUE,
            MAX_ABS_VALUE * (1 + 2**-52),
            1.7e308,
            -1.7e308,
            2**53 + 1,
            2**63,
            -(2**63) - 1,
            10**400,
        ]
    ),
    st.floats(allow_nan=False, allow_infinity=False),
)
METRIC_COUNTS = st.sampled_from([1, 2, 128, 129, 2000])


@st.composite
def readings(draw: st.DrawFn) -> dict[str, Any]:
    """A valid reading with one or two of its fields moved to an edge.

    Moving every field at once would almost never produce a reading that passes
    validation, and the store-side edges (a seq that fits the rule but not the
    column) hide behind valid neighbours.
    """
    edges = draw(st.sets(st.sampled_from(["seq", "ts", "value", "count"]), max_size=2))
    count = draw(METRIC_COUNTS) if "count" in edges else 1
    value = draw(VALUES) if "value" in edges else 1.5
    seq = draw(SEQS) if "seq" in edges else draw(st.integers(0, 10))
    reading: dict[str, Any] = {
        "ts": draw(TIMES) if "ts" in edges else NOW_MS,
        "metrics": {f"m{i}": value for i in range(count)},
    }
    if seq is not None:
        reading["seq"] = seq
    return reading


@st.composite
def messages(draw: st.DrawFn) -> list[InboundMessage]:
    device = f"edge-{next(_devices)}"
    topic = f"iot/{device}/telemetry"
    bodies: list[Any] = draw(st.lists(readings(), min_size=1, max_size=4))
    if draw(st.booleans()):
        # the same reading twice in one batch, and once more as its own message
        bodies.append(bodies[0])
    if draw(st.booleans()):
        bodies.append(bodies[: draw(st.integers(1, len(bodies)))])
    return [InboundMessage(topic, json.dumps(b).encode(), NOW_MS) for b in bodies]


def run_through_collector(store: SqlStore, archive_dir: Path, batch: list[InboundMessage]) -> None:
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    committer = Committer(
        store, FolderArchive(archive_dir), InterpretConfig(), metrics, auto_register=True
    )
    make_source = SourceFactory()
    collector = Collector(make_source, committer, metrics, BatchPolicy(max_wait_s=0.2))
    source = make_source.source
    for mid, message in enumerate(batch, start=1):
        source.deliver(message, Delivery(mid=mid, qos=1, generation=1))
    collector.start()
    try:
        deadline = time.monotonic() + 30
        while len(source.acked) < len(batch) and time.monotonic() < deadline:
            assert not collector.failed.is_set()
            time.sleep(0.005)
        assert sorted(source.acked) == list(range(1, len(batch) + 1))
        assert collector.status().running
    finally:
        collector.stop(timeout_s=5)


def stored(store: SqlStore, device: str, body: Any) -> bool:
    """Every reading of the message is in the store (under its own or a later value)."""
    items = body if isinstance(body, list) else [body]
    points = {p.ts_ms for p in store.raw_points(device, EARLIEST_MS, LATEST_MS, None, 10_000)}
    return all(isinstance(i["ts"], int) and i["ts"] in points for i in items)


def _example(*bodies: dict[str, Any]) -> list[InboundMessage]:
    topic = f"iot/edge-x{next(_devices)}/telemetry"
    return [InboundMessage(topic, json.dumps(b).encode(), NOW_MS) for b in bodies]


def _reading(seq: int = 0, ts: Any = NOW_MS, value: Any = 1.5, count: int = 1) -> dict[str, Any]:
    return {"seq": seq, "ts": ts, "metrics": {f"m{i}": value for i in range(count)}}


# The reproductions of issue 8 and each named edge, always run before the random ones.
EXAMPLES = [
    _example(_reading(seq=2**63 - 1)),
    _example(_reading(seq=2**63 - 2), _reading(seq=2**63 - 1, ts=NOW_MS + 1)),
    _example(_reading(ts=NOW_MS + SKEW_MS), _reading(seq=1, ts=NOW_MS + SKEW_MS + 1)),
    _example(_reading(ts=EARLIEST_MS), _reading(seq=1, ts=LATEST_MS - 1)),
    _example(_reading(value=1.7e308), _reading(seq=1, ts=NOW_MS + 1, value=-1.7e308)),
    _example(_reading(value=5e-324), _reading(seq=1, ts=NOW_MS + 1, value=-MAX_ABS_VALUE)),
    _example(_reading(count=2000), _reading(seq=1, ts=NOW_MS + 1, count=128)),
    _example(_reading(), _reading(), [_reading(), _reading(seq=1, ts=NOW_MS + 1)]),
]


def _with_examples(test: Any) -> Any:
    for batch in EXAMPLES:
        test = example(batch=batch)(test)
    return test


@_with_examples
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=messages())
def test_each_message_at_the_edges_is_stored_or_quarantined(
    store: SqlStore, tmp_path: Path, batch: list[InboundMessage]
) -> None:
    run_through_collector(store, tmp_path / "archive", batch)
    topic = batch[0].topic
    device = topic.split("/")[1]
    quarantined = {q.payload for q in store.quarantine(1000) if q.topic == topic}
    for message in batch:
        body = json.loads(message.payload)
        assert message.payload in quarantined or stored(store, device, body), body
