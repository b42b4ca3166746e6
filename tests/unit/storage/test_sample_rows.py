"""A commit's sample rows: every metric of every reading, in key order, received when it was;
and its latest values: the last write of each (device, metric)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from wattline.model.messages import Reading
from wattline.storage.sql.commit import _latest_rows, _sample_rows

readings = st.lists(
    st.builds(
        Reading,
        device_id=st.sampled_from(["a", "b", "c"]),
        ts_ms=st.integers(0, 5),
        metrics=st.dictionaries(st.sampled_from(["p", "q", "v"]), st.floats(-9, 9), min_size=1),
        seq=st.none() | st.integers(0, 9),
    ),
    max_size=12,
)


def _expected(
    ordered: list[Reading], seen: dict[str, int], received: dict[int, int] | None
) -> list[tuple[object, ...]]:
    """The definition: each reading's samples, sorted by (device, metric) and otherwise
    left in the readings' order (by time, arrival breaking ties)."""
    rows = [
        (
            r.device_id,
            metric,
            r.ts_ms,
            value,
            r.seq,
            received.get(id(r), r.ts_ms)
            if received is not None
            else seen.get(r.device_id, r.ts_ms),
        )
        for r in ordered
        for metric, value in r.metrics.items()
    ]
    return sorted(rows, key=lambda row: (row[0], row[1]))


@given(batch=readings, seen_ms=st.integers(100, 200), by_reading=st.booleans())
def test_rows_are_every_sample_in_key_order(
    batch: list[Reading], seen_ms: int, by_reading: bool
) -> None:
    # the caller's order: by device, then time, stably
    ordered = sorted(batch, key=lambda r: (r.device_id, r.ts_ms))
    seen = {"a": seen_ms}  # "b" and "c" unknown: received at their own time
    received = {id(r): seen_ms + i for i, r in enumerate(ordered[::2])} if by_reading else None
    rows, runs = _sample_rows(ordered, seen, received)
    assert rows == _expected(ordered, seen, received)
    # the runs cut the rows into their series, in order, each series once
    starts = [0, *(end for _, _, end in runs)][: len(runs)]
    assert [(d, m) for d, m, _ in runs] == sorted({(row[0], row[1]) for row in rows})
    assert all(
        {(row[0], row[1]) for row in rows[start:end]} == {(d, m)}
        for start, (d, m, end) in zip(starts, runs, strict=True)
    )
    assert (runs[-1][2] if runs else 0) == len(rows)


@given(batch=readings)
def test_latest_rows_are_each_series_last_write(batch: list[Reading]) -> None:
    ordered = sorted(batch, key=lambda r: (r.device_id, r.ts_ms))
    # the definition: every sample written in order, a later one overwriting
    newest = {(r.device_id, m): (r.ts_ms, v) for r in ordered for m, v in r.metrics.items()}
    rows = _latest_rows(ordered)
    assert len(rows) == len(newest)
    assert {(row["device_id"], row["metric"]): (row["ts_ms"], row["value"]) for row in rows} == (
        newest
    )
