"""Compaction running while collectors redeliver into the same day: nothing lost or doubled."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, func, select

from wattline.model.calendar import Interval, Unit
from wattline.model.messages import Reading
from wattline.storage import compaction, schema
from wattline.storage.base import CommitBatch, DedupCounts
from wattline.storage.bucketing import plan_buckets
from wattline.storage.compaction import Compacted
from wattline.storage.rollups import DAY_MS, MINUTE_MS
from wattline.storage.sql import SqlStore

DAY0 = 1_764_028_800_000  # 2025-11-25T00:00Z, long closed
MINUTES = 720


def _readings(value: float) -> list[Reading]:
    return [
        Reading("race-1", DAY0 + i * MINUTE_MS, {"power_w": value + i}, seq=None)
        for i in range(MINUTES)
    ]


def _commit(store: SqlStore, readings: list[Reading]) -> None:
    for i in range(0, len(readings), 60):
        part = readings[i : i + 60]
        store.commit(CommitBatch(readings=part, seen_ms={"race-1": DAY0}, register=["race-1"]))


def test_redeliveries_during_compaction_are_counted_once(store: SqlStore) -> None:
    _commit(store, _readings(1.0))
    errors: list[BaseException] = []

    def run(job: object) -> None:
        try:
            job()  # type: ignore[operator]
        except BaseException as exc:
            errors.append(exc)

    for _ in range(3):
        threads = [
            threading.Thread(target=run, args=(lambda: store.compact_before(DAY0 + DAY_MS),)),
            threading.Thread(target=run, args=(lambda: _commit(store, _readings(1.0)),)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    store.compact_before(DAY0 + DAY_MS)
    # Three redeliveries of every reading: all dropped, none stored twice.
    assert store.dedup_counts("race-1") == DedupCounts(3 * MINUTES, 0)
    points = store.metric_points("race-1", "power_w", DAY0, DAY0 + DAY_MS)
    assert points == [(DAY0 + i * MINUTE_MS, 1.0 + i) for i in range(MINUTES)]
    plan = plan_buckets(DAY0, DAY0 + DAY_MS, Interval(Unit.FIXED, DAY_MS), None, 10)
    [bucket] = store.series(["race-1"], plan, ["power_w"])["race-1"]
    day = bucket.metrics["power_w"]
    assert (day.count, day.sum) == (MINUTES, sum(1.0 + i for i in range(MINUTES)))


def _pages(store: SqlStore, *, descending: bool) -> list[tuple[int, dict[str, float]]]:
    got: list[tuple[int, dict[str, float]]] = []
    after: int | None = None
    while True:
        page = store.raw_points(
            "mix-1", DAY0, DAY0 + 3 * DAY_MS, None, 7, after_ms=after, descending=descending
        )
        got += [(p.ts_ms, p.metrics) for p in page]
        if len(page) < 7:
            return got
        after = page[-1].ts_ms


def test_pages_across_blocks_and_rows_in_both_directions(store: SqlStore) -> None:
    readings = [
        Reading("mix-1", DAY0 + day * DAY_MS + i * 3_600_000, {"a": i, "b": -i}, seq=i)
        for day in range(3)
        for i in range(0, 24, 5)
    ]
    store.commit(CommitBatch(readings=readings, seen_ms={"mix-1": DAY0}, register=["mix-1"]))
    ascending, descending = _pages(store, descending=False), _pages(store, descending=True)
    assert len(ascending) == 15
    assert descending == ascending[::-1]
    store.compact_before(DAY0 + 2 * DAY_MS)  # two days in blocks, the third still rows
    assert _pages(store, descending=False) == ascending
    assert _pages(store, descending=True) == descending
    # a field filter and one metric's points read through blocks too
    [first] = store.raw_points("mix-1", DAY0, DAY0 + 3 * DAY_MS, ["b"], 1)
    assert (first.ts_ms, first.metrics, first.seq) == (DAY0, {"b": 0.0}, 0)
    assert len(store.metric_points("mix-1", "a", DAY0, DAY0 + 3 * DAY_MS)) == 15


def test_days_beyond_one_transaction_are_all_packed(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A budget of 30 rows: each transaction stops after two of these days (24 rows each).
    monkeypatch.setattr(compaction, "ROWS_PER_TRANSACTION", 30)
    readings = [
        Reading("long-1", DAY0 + day * DAY_MS + i * 3_600_000, {"a": day + i / 100}, seq=None)
        for day in range(5)
        for i in range(24)
    ]
    store.commit(CommitBatch(readings=readings, seen_ms={"long-1": DAY0}, register=["long-1"]))
    done = store.compact_before(DAY0 + 5 * DAY_MS)
    # 5 days of raw rows and 5 of 1-minute rows; 24 of each a day
    assert (done.series_days, done.rows) == (10, 240)
    with store.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(schema.samples)) == 0
        assert conn.scalar(select(func.count()).select_from(schema.sample_blocks)) == 5
    points = store.metric_points("long-1", "a", DAY0, DAY0 + 5 * DAY_MS)
    assert points == [(r.ts_ms, r.metrics["a"]) for r in readings]
    assert store.compact_before(DAY0 + 5 * DAY_MS).series_days == 0


def test_a_read_beside_a_compaction_sees_the_day_once(store: SqlStore) -> None:
    """The rows and then the blocks are two statements: a compaction committed between
    them must not make the day count twice (both are read in one snapshot)."""
    _commit(store, _readings(1.0))
    moved: list[Compacted] = []
    reader = threading.get_ident()

    def compact_once(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        # once, after the reader's rows statement (the compaction's own statements match too)
        first = threading.get_ident() == reader and not moved
        if first and "FROM rollup_1m" in statement and "blocks" not in statement:
            worker = threading.Thread(
                target=lambda: moved.append(store.compact_before(DAY0 + DAY_MS))
            )
            worker.start()
            worker.join()

    # 15-minute buckets: answered from the 1-minute tier, rows and blocks
    plan = plan_buckets(DAY0, DAY0 + DAY_MS, Interval(Unit.FIXED, 15 * MINUTE_MS), None, 200)
    event.listen(store.engine, "after_cursor_execute", compact_once)
    try:
        series = store.series_columns(["race-1"], plan, ["power_w"])
    finally:
        event.remove(store.engine, "after_cursor_execute", compact_once)
    [compacted] = moved  # the compaction ran, between the reader's two statements
    assert compacted.rows > 0
    day = series["race-1"].metrics["power_w"]
    assert int(day.count.sum()) == MINUTES
