"""Rollup arithmetic: merging partial aggregates, as a table."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattline.storage.rollups import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    Aggregate,
    Tier,
    aggregate_samples,
    merge,
    merge_all,
    tier_partials,
)

A = Aggregate(count=2, sum=3.0, min=1.0, max=2.0, first_ts_ms=10, first_value=1.0,
              last_ts_ms=20, last_value=2.0)  # fmt: skip


@pytest.mark.parametrize(
    ("other", "expected"),
    [
        # later samples: first stays, last moves
        (Aggregate.of(30, 5.0), Aggregate(3, 8.0, 1.0, 5.0, 10, 1.0, 30, 5.0)),
        # a late sample before the first: first moves, last stays
        (Aggregate.of(5, -1.0), Aggregate(3, 2.0, -1.0, 2.0, 5, -1.0, 20, 2.0)),
        # one in between: only count, sum and extremes change
        (Aggregate.of(15, 0.5), Aggregate(3, 3.5, 0.5, 2.0, 10, 1.0, 20, 2.0)),
        # a partial spanning both ends
        (
            Aggregate(2, 0.0, -4.0, 4.0, 1, 4.0, 99, -4.0),
            Aggregate(4, 3.0, -4.0, 4.0, 1, 4.0, 99, -4.0),
        ),
    ],
)
def test_merge(other: Aggregate, expected: Aggregate) -> None:
    assert merge(A, other) == expected
    assert merge(other, A) == expected  # order of arrival does not matter


def test_a_batch_is_split_into_minute_buckets_and_coarsened() -> None:
    t = DAY_MS  # a UTC midnight
    samples = [
        ("d", "p", t + 59_999, 1.0),
        ("d", "p", t + 60_000, 2.0),
        ("d", "p", t, 3.0),  # out of order within the batch
        ("d", "q", t + HOUR_MS, 4.0),
        ("e", "p", t - 1, 5.0),  # the day before
    ]
    tiers = dict(tier_partials(samples))
    assert tiers[Tier.M1][("d", "p", t)] == Aggregate(2, 4.0, 1.0, 3.0, t, 3.0, t + 59_999, 1.0)
    assert tiers[Tier.M1][("d", "p", t + MINUTE_MS)].count == 1
    assert tiers[Tier.H1][("d", "p", t)] == Aggregate(3, 6.0, 1.0, 3.0, t, 3.0, t + 60_000, 2.0)
    assert tiers[Tier.H1][("d", "q", t + HOUR_MS)].count == 1
    assert set(tiers[Tier.D1]) == {("d", "p", t), ("d", "q", t), ("e", "p", 0)}


@given(
    st.lists(
        st.tuples(st.integers(0, 10**9), st.floats(-1e9, 1e9)), min_size=1, unique_by=lambda s: s[0]
    )
)
def test_merging_partials_in_any_grouping_equals_one_pass(samples: list[tuple[int, float]]) -> None:
    one_pass = merge_all(Aggregate.of(ts, v) for ts, v in samples)
    halves = merge_all(
        [
            merge_all(Aggregate.of(ts, v) for ts, v in samples[::2]),
            merge_all(Aggregate.of(ts, v) for ts, v in samples[1::2]),
        ]
        if len(samples) > 1
        else [Aggregate.of(*samples[0])]
    )
    assert one_pass is not None
    assert halves is not None
    assert (one_pass.count, one_pass.min, one_pass.max) == (halves.count, halves.min, halves.max)
    assert (one_pass.first_ts_ms, one_pass.first_value) == (halves.first_ts_ms, halves.first_value)
    assert (one_pass.last_ts_ms, one_pass.last_value) == (halves.last_ts_ms, halves.last_value)
    assert one_pass.sum == pytest.approx(halves.sum, rel=1e-9, abs=1e-3)


def _one_at_a_time(
    samples: list[tuple[str, str, int, float]],
) -> dict[tuple[str, str, int], Aggregate]:
    """The definition: each sample merged into its bucket's partial, in arrival order."""
    partials: dict[tuple[str, str, int], Aggregate] = {}
    for device_id, metric, ts_ms, value in samples:
        key = (device_id, metric, ts_ms - ts_ms % MINUTE_MS)
        one = Aggregate.of(ts_ms, value)
        partials[key] = merge(partials[key], one) if key in partials else one
    return partials


samples_in_any_order = st.lists(
    st.tuples(
        st.sampled_from(["d1", "d2"]),
        st.sampled_from(["p", "q"]),
        st.integers(0, 3 * MINUTE_MS),
        st.floats(-1e6, 1e6),
    ),
    max_size=60,
)


@given(samples_in_any_order)
def test_minute_partials_equal_merging_one_sample_at_a_time(
    samples: list[tuple[str, str, int, float]],
) -> None:
    # Exactly, sums included: ties in time, buckets met again after another, any order.
    assert aggregate_samples(samples) == _one_at_a_time(samples)


@given(samples_in_any_order)
def test_key_ordered_rows_give_the_same_partials(
    samples: list[tuple[str, str, int, float]],
) -> None:
    # the store's order: by device, metric and time, a key's repeats in arrival order
    ordered = sorted(samples, key=lambda s: (s[0], s[1], s[2]))
    assert aggregate_samples(ordered) == _one_at_a_time(ordered)
