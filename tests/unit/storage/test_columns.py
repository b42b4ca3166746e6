"""The column-wise merge (``assemble_columns``) against the object-wise one (``assemble``)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from wattline.storage.bucketing import Cell, assemble
from wattline.storage.columns import CellColumns, SeriesColumns, assemble_columns
from wattline.storage.rollups import Aggregate

STEP = 60_000
EDGES = tuple(range(0, 20 * STEP, STEP))
# Finite, as validation admits them (a sum may still overflow, in the same order on both paths).
values = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def aggregates(draw: st.DrawFn) -> Aggregate:
    first_ts, last_ts = sorted(draw(st.lists(st.integers(0, 10**6), min_size=2, max_size=2)))
    return Aggregate(
        draw(st.integers(1, 100)),
        draw(values),
        draw(values),
        draw(values),
        first_ts,
        draw(values),
        last_ts,
        draw(values),
    )


def _part(metric: str, cells: list[tuple[int, Aggregate]]) -> CellColumns:
    columns = tuple(zip(*((at, *vars_of(a)) for at, a in cells), strict=True))
    kinds = (np.int64, np.int64, *(np.float64,) * 3, np.int64, np.float64, np.int64, np.float64)
    return CellColumns(
        "d", metric, tuple(np.asarray(c, k) for c, k in zip(columns, kinds, strict=True))
    )


def vars_of(a: Aggregate) -> tuple[object, ...]:
    return (a.count, a.sum, a.min, a.max, a.first_ts_ms, a.first_value, a.last_ts_ms, a.last_value)


def _same(x: float, y: float) -> bool:
    return (math.isnan(x) and math.isnan(y)) or (
        x == y and math.copysign(1, x) == math.copysign(1, y)
    )


def _check(series: SeriesColumns, cells: list[tuple[int, Aggregate]]) -> None:
    [expected] = assemble((Cell("d", "m", at, a) for at, a in cells), EDGES).values()
    got = series.metrics["m"]
    present = series.present()
    assert [EDGES[i] for i in present] == [b.start_ms for b in expected]
    for i, bucket in zip(present, expected, strict=True):
        want = bucket.metrics["m"]
        row = (got.count, got.sum, got.min, got.max, got.first_ts, got.first, got.last_ts, got.last)
        for column, value in zip(row, vars_of(want), strict=True):
            assert _same(float(column[i]), float(value)), (i, column[i], value)  # type: ignore[arg-type]


@given(st.lists(st.tuples(st.integers(0, 19), aggregates()), max_size=30))
def test_several_cells_per_bucket_merge_as_objects_do(drawn: list[tuple[int, Aggregate]]) -> None:
    cells = [(b * STEP + STEP // 2, a) for b, a in drawn]  # any order, repeats allowed
    merged = assemble_columns([_part("m", cells)] if cells else [], EDGES)
    if cells:
        _check(merged["d"], cells)
    else:
        assert merged == {}


@given(st.dictionaries(st.integers(0, 19), aggregates(), min_size=1, max_size=20))
def test_one_cell_per_bucket_is_placed_as_merged(drawn: dict[int, Aggregate]) -> None:
    # A cell per bucket in time order: the direct placement, no merging.
    cells = [(b * STEP, drawn[b]) for b in sorted(drawn)]
    _check(assemble_columns([_part("m", cells)], EDGES)["d"], cells)
    # And cut in two chunks (a day's block and today's rows): the same answer.
    half = len(cells) // 2
    parts = [_part("m", cells[:half]), _part("m", cells[half:])] if half else [_part("m", cells)]
    _check(assemble_columns(parts, EDGES)["d"], cells)
