"""The column-wise bucket JSON is the object-wise JSON, byte for byte."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
from hypothesis import given
from hypothesis import strategies as st

from wattline.api.params import AGGREGATES
from wattline.api.series import _iso_texts, buckets_fragment, buckets_json, columns_fragment
from wattline.model.times import iso_ms
from wattline.storage.bucketing import SeriesBucket
from wattline.storage.columns import columns_from_buckets
from wattline.storage.rollups import Aggregate

T0 = 1_764_547_200_000  # 2025-12-01T00:00:00Z
MINUTE = 60_000
# A switch among ordinary metrics, and a name JSON must escape; in name order, as
# the store's key-ordered reads meet them.
METRICS = tuple(sorted(("power_w", "relay_state", "energy_wh", 'odd "name" 100%')))

values = st.floats(allow_nan=True, allow_infinity=True)
switch_values = st.sampled_from([0.0, 1.0, -0.0, 0.5, float("nan")])
aggregates = st.lists(st.sampled_from(AGGREGATES), min_size=1, max_size=7, unique=True)


@st.composite
def aggregate(draw: st.DrawFn, metric: str) -> Aggregate:
    value = switch_values if metric == "relay_state" else values
    first_ts = draw(st.integers(0, MINUTE - 1))
    return Aggregate(
        count=draw(st.integers(1, 2**40)),
        sum=draw(values),
        min=draw(value),
        max=draw(value),
        first_ts_ms=first_ts,
        first_value=draw(value),
        last_ts_ms=draw(st.integers(first_ts, MINUTE - 1)),
        last_value=draw(value),
    )


@st.composite
def buckets(draw: st.DrawFn) -> tuple[list[SeriesBucket], list[int]]:
    """Buckets on a minute grid, some left out (no data), each with some of the metrics."""
    size = draw(st.integers(0, 30))
    starts = [T0 + i * MINUTE for i in range(size)]
    # Dense: every metric in every bucket with data (the one-template path), else any subset.
    dense = draw(st.booleans())
    out = []
    for start in starts:
        if dense:
            chosen = list(METRICS) if draw(st.booleans()) else []
        else:
            chosen = [m for m in METRICS if draw(st.booleans())]
        if chosen:
            out.append(SeriesBucket(start, {m: draw(aggregate(m)) for m in chosen}))
    return out, starts


def _object_wise(series: list[SeriesBucket], names: list[str]) -> bytes:
    return orjson.dumps(buckets_json(series, names))


def _column_wise(series: list[SeriesBucket], starts: list[int], names: list[str]) -> bytes:
    fragment: Any = buckets_fragment(columns_from_buckets(series, starts), names)
    return orjson.dumps(fragment)


@given(case=buckets(), names=aggregates)
def test_column_wise_json_is_the_object_wise_json(
    case: tuple[list[SeriesBucket], list[int]], names: list[str]
) -> None:
    series, starts = case
    assert _column_wise(series, starts, names) == _object_wise(series, names)


def test_no_buckets_is_an_empty_list() -> None:
    assert orjson.dumps(buckets_fragment(None, ["avg"])) == b"[]"
    assert _column_wise([], [T0], ["avg", "min"]) == b"[]"


def test_a_switch_shows_booleans_and_nan_is_null() -> None:
    nan = float("nan")
    series = [
        SeriesBucket(T0, {"relay_state": Aggregate(2, 1.0, 0.0, 1.0, 0, 0.0, 5, 1.0)}),
        SeriesBucket(T0 + MINUTE, {"power_w": Aggregate(1, nan, nan, 2.5, 0, nan, 0, nan)}),
    ]
    body = _column_wise(series, [T0, T0 + MINUTE], ["avg", "min", "max", "first", "last"])
    assert body == _object_wise(series, ["avg", "min", "max", "first", "last"])
    assert b'"min":false,"max":true,"first":false,"last":true' in body
    assert b'"avg":null,"min":null,"max":2.5' in body


instants = st.integers(-(2**62), 2**62) | st.integers(-62_135_596_800_001, 253_402_300_800_000)


@given(st.lists(instants))
def test_bucket_times_print_as_iso_ms(starts: list[int]) -> None:
    """NumPy prints years 1 to 9999; anything else goes through ``iso_ms`` itself."""
    try:
        want = [iso_ms(ts).encode() for ts in starts]
    except (OverflowError, ValueError):
        return  # iso_ms has no answer either; the API never asks (check_bucket_range)
    assert _iso_texts(np.array(starts, np.int64)) == want


def _columns_layout(series: list[SeriesBucket], starts: list[int], names: list[str]) -> Any:
    fragment: Any = columns_fragment(columns_from_buckets(series, starts), names)
    return orjson.loads(orjson.dumps(fragment))


@given(case=buckets(), names=aggregates)
def test_the_columns_layout_is_the_bucket_layout_transposed(
    case: tuple[list[SeriesBucket], list[int]], names: list[str]
) -> None:
    series, starts = case
    rows = orjson.loads(_object_wise(series, names))
    columns = _columns_layout(series, starts, names)
    assert [iso_ms(ts) for ts in columns["ts_ms"]] == [row["ts"] for row in rows]
    assert set(columns["values"]) == {m for row in rows for m in row["values"]}
    for metric, stats in columns["values"].items():
        assert list(stats) == names
        for i, row in enumerate(rows):
            # null where the metric has no data in the bucket, and a count of 0
            absent = {name: 0 if name == "count" else None for name in names}
            assert {n: stats[n][i] for n in names} == row["values"].get(metric, absent)


def test_no_buckets_is_empty_columns() -> None:
    assert orjson.loads(orjson.dumps(columns_fragment(None, ["avg"]))) == {
        "ts_ms": [],
        "values": {},
    }
    assert _columns_layout([], [T0], ["avg"]) == {"ts_ms": [], "values": {}}


days = st.integers(-62_135_596_800_000 // 86_400_000, 253_402_300_799_999 // 86_400_000)


@given(days, st.lists(st.integers(0, 1439)))
def test_minutes_of_one_day_print_as_iso_ms(day: int, minutes: list[int]) -> None:
    """One day's whole minutes take the table of times of day, in any order."""
    starts = [day * 86_400_000 + m * 60_000 for m in minutes]
    assert _iso_texts(np.array(starts, np.int64)) == [iso_ms(ts).encode() for ts in starts]


def test_a_day_at_one_minute_prints_as_iso_ms() -> None:
    day = 1_764_547_200_000  # 2025-12-01
    starts = [day + m * 60_000 for m in range(1440)]
    texts = _iso_texts(np.array(starts, np.int64))
    assert texts[0] == b"2025-12-01T00:00:00.000Z"
    assert texts[-1] == b"2025-12-01T23:59:00.000Z"
    assert texts == [iso_ms(ts).encode() for ts in starts]
