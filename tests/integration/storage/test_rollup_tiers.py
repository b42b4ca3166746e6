"""Every rollup tier equals a recomputation from the raw data, by DuckDB, on every backend.

Streams mix duplicates (redeliveries), corrections (a new value for a stored
key), and late and out-of-order readings across hour and UTC day boundaries.
The oracle is DuckDB's own GROUP BY over the final raw data, never the code
under test.
"""

from __future__ import annotations

import itertools
import math
import time
from typing import Any

import duckdb
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wattline.api.params import AGGREGATES
from wattline.api.series import buckets_fragment, buckets_json
from wattline.model.calendar import Interval, Unit
from wattline.model.messages import Reading
from wattline.storage.base import CommitBatch
from wattline.storage.bucketing import plan_buckets
from wattline.storage.rollup_tables import TABLES
from wattline.storage.rollups import DAY_MS, HOUR_MS, MINUTE_MS, TIERS, Tier
from wattline.storage.sql import SqlStore

# 2026-11-25T22:00Z: streams run across 23:00 and midnight (a new UTC day and month-day).
T0 = 1_795_644_000_000
SPAN_MS = 5 * HOUR_MS
_example = itertools.count()

# Few distinct timestamps and values, so duplicates and corrections are common.
offsets = st.one_of(
    st.integers(0, SPAN_MS - 1),
    st.sampled_from([0, HOUR_MS - 1, HOUR_MS, 2 * HOUR_MS - 1, 2 * HOUR_MS, 2 * HOUR_MS + 1]),
)
values = st.one_of(st.sampled_from([0.0, 1.0, -2.5]), st.floats(-1e6, 1e6, allow_nan=False))
event = st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["p", "q"]), offsets, values)
streams = st.lists(st.lists(event, min_size=1, max_size=30), min_size=1, max_size=6)


def _commit_stream(
    store: SqlStore, prefix: str, batches: list[list[Any]], t0: int = T0
) -> dict[Any, float]:
    """Commit each batch (replaying earlier events now and then) and return the final raw data."""
    final: dict[tuple[str, str, int], float] = {}
    for batch in batches:
        readings = [
            Reading(f"{prefix}{device}", t0 + offset, {metric: value})
            for device, metric, offset, value in batch
        ]
        devices = sorted({r.device_id for r in readings})
        store.commit(
            CommitBatch(readings=readings, seen_ms=dict.fromkeys(devices, T0), register=devices)
        )
        for r in readings:  # the newest arrival of a key wins
            for metric, value in r.metrics.items():
                final[(r.device_id, metric, r.ts_ms)] = value
    return final


def _oracle(final: dict[Any, float], width_ms: int) -> dict[tuple[str, str, int], tuple[Any, ...]]:
    con = duckdb.connect()
    con.execute("CREATE TABLE s (device_id VARCHAR, metric VARCHAR, ts_ms BIGINT, value DOUBLE)")
    con.executemany("INSERT INTO s VALUES (?, ?, ?, ?)", [(*k, v) for k, v in final.items()])
    rows = con.execute(
        "SELECT device_id, metric, ts_ms - ts_ms % $w AS b, count(*), sum(value), min(value),"
        " max(value), min(ts_ms), arg_min(value, ts_ms), max(ts_ms), arg_max(value, ts_ms)"
        " FROM s GROUP BY ALL",
        {"w": width_ms},
    ).fetchall()
    con.close()
    return {(d, m, b): tuple(rest) for d, m, b, *rest in rows}


def _same(got: tuple[Any, ...], want: tuple[Any, ...]) -> bool:
    count, total, low, high, first_ts, first, last_ts, last = got
    w_count, w_total, *w_rest = want
    # The sum is accumulated in another order: equal to rounding, the rest exactly.
    close = math.isclose(total, w_total, rel_tol=1e-9, abs_tol=1e-6)
    return count == w_count and close and [low, high, first_ts, first, last_ts, last] == w_rest


def _stored_tier(store: SqlStore, tier: Tier, prefix: str) -> dict[Any, tuple[Any, ...]]:
    table = TABLES[tier]
    with store.engine.connect() as conn:
        rows = conn.execute(table.select().where(table.c.device_id.startswith(prefix))).all()
    return {(r.device_id, r.metric, r.bucket_ms): tuple(r[3:]) for r in rows}


def _check_every_tier(store: SqlStore, prefix: str, batches: list[list[Any]], t0: int) -> None:
    """Commit the stream from ``t0``; the raw data and every tier must equal DuckDB's."""
    final = _commit_stream(store, prefix, batches, t0)
    stored_raw = {
        (f"{prefix}{d}", metric, p.ts_ms): value
        for d in ("a", "b")
        for p in store.raw_points(f"{prefix}{d}", t0, t0 + SPAN_MS, None, 10_000)
        for metric, value in p.metrics.items()
    }
    assert stored_raw == final
    for tier in TIERS:
        stored = _stored_tier(store, tier, prefix)
        want = _oracle(final, tier.width_ms)
        assert stored.keys() == want.keys(), tier
        for key, row in stored.items():
            assert _same(row, want[key]), (tier, key, row, want[key])


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=streams)
def test_every_tier_equals_duckdb_over_the_raw_data(
    store: SqlStore, batches: list[list[Any]]
) -> None:
    _check_every_tier(store, f"x{next(_example)}-", batches, T0)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=streams)
def test_every_tier_equals_duckdb_over_todays_data(
    store: SqlStore, batches: list[list[Any]]
) -> None:
    """Readings of today take the commit's other order (samples inserted before
    sequencing, ``storage/sql/commit.py``), with the same duplicates and corrections."""
    now_ms = time.time_ns() // 1_000_000
    _check_every_tier(store, f"t{next(_example)}-", batches, now_ms - now_ms % DAY_MS)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=streams, interval_ms=st.sampled_from([MINUTE_MS, 15 * MINUTE_MS, HOUR_MS, DAY_MS]))
def test_queries_from_every_tier_that_can_answer_agree_with_duckdb(
    store: SqlStore, batches: list[list[Any]], interval_ms: int
) -> None:
    prefix = f"y{next(_example)}-"
    final = _commit_stream(store, prefix, batches)
    want = _oracle(final, interval_ms)
    start_ms, end_ms = T0 - T0 % DAY_MS, T0 - T0 % DAY_MS + 2 * DAY_MS
    plan = plan_buckets(start_ms, end_ms, Interval(Unit.FIXED, interval_ms), None, 10_000)
    devices = [f"{prefix}a", f"{prefix}b"]
    for source in (None, *(t for t in TIERS if interval_ms % t.width_ms == 0)):
        series = store.series(devices, plan.with_source(source), None, with_ends=True)
        got = {
            (device, metric, bucket.start_ms): (
                a.count, a.sum, a.min, a.max, a.first_ts_ms, a.first_value, a.last_ts_ms,
                a.last_value,
            )
            for device, buckets in series.items()
            for bucket in buckets
            for metric, a in bucket.metrics.items()
        }  # fmt: skip
        assert got.keys() == want.keys(), source
        for key, row in got.items():
            assert _same(row, want[key]), (source, key, row, want[key])
        # The column-wise read the bucket routes use gives the same buckets.
        columns = store.series_columns(devices, plan.with_source(source), None, with_ends=True)
        got_columns = {
            (device, metric, start): (
                c.count[i], c.sum[i], c.min[i], c.max[i], c.first_ts[i], c.first[i],
                c.last_ts[i], c.last[i],
            )
            for device, series in columns.items()
            for metric, c in series.metrics.items()
            for i, start in enumerate(series.starts.tolist())
            if c.count[i] > 0
        }  # fmt: skip
        assert got_columns.keys() == want.keys(), source
        for key, row in got_columns.items():
            assert _same(tuple(x.item() for x in row), want[key]), (source, key, row, want[key])
        # And the routes' JSON of both reads is the same (metric order aside: rows
        # grouped by PostgreSQL come in no set order).
        for device in devices:
            objects = orjson.dumps(buckets_json(series.get(device, []), AGGREGATES))
            fragment = buckets_fragment(columns.get(device), AGGREGATES)
            assert orjson.loads(orjson.dumps(fragment)) == orjson.loads(objects), source
