"""The in-memory window of the last N readings."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattline.live.window import RecentReadings
from wattline.model.messages import Reading


def test_keeps_the_newest_n_by_timestamp_in_order() -> None:
    window = RecentReadings(size=3)
    window.add([Reading("d", ts, {"power_w": float(ts)}) for ts in (5, 1, 4, 2, 3)])
    assert window.get("d", None, 10) == {"power_w": [(3, 3.0), (4, 4.0), (5, 5.0)]}
    assert window.get("d", ["power_w"], 2) == {"power_w": [(4, 4.0), (5, 5.0)]}


def test_late_readings_older_than_a_full_window_are_dropped() -> None:
    window = RecentReadings(size=2)
    window.add([Reading("d", ts, {"v": 1.0}) for ts in (10, 20)])
    window.add([Reading("d", 5, {"v": 9.0})])
    assert window.get("d", None, 5) == {"v": [(10, 1.0), (20, 1.0)]}


def test_a_correction_replaces_but_a_refill_does_not_overwrite() -> None:
    window = RecentReadings(size=5)
    window.add([Reading("d", 1, {"v": 1.0}), Reading("d", 1, {"v": 2.0})])
    window.merge("d", "v", [(1, 7.0), (0, 0.5)])
    assert window.get("d", ["v", "missing"], 5) == {"v": [(0, 0.5), (1, 2.0)]}


def test_metrics_and_devices_are_kept_apart() -> None:
    window = RecentReadings()
    window.add([Reading("a", 1, {"x": 1.0, "y": 2.0}), Reading("b", 1, {"x": 3.0})])
    assert window.get("a", None, 60) == {"x": [(1, 1.0)], "y": [(1, 2.0)]}
    assert window.get("b", None, 60) == {"x": [(1, 3.0)]}
    assert window.get("c", None, 60) == {}
    assert not window.is_loaded("a")
    window.mark_loaded("a")
    assert window.is_loaded("a")


def test_concurrent_writers_and_readers() -> None:
    window = RecentReadings(size=50)

    def write(offset: int) -> None:
        for i in range(2000):
            window.add([Reading("d", offset + i * 4, {"v": float(i)})])
            window.get("d", None, 50)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    series = window.get("d", None, 50)["v"]
    assert [ts for ts, _ in series] == list(range(8000 - 50, 8000))


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RecentReadings(size=0)


@given(
    st.integers(min_value=1, max_value=8),
    st.lists(st.tuples(st.integers(0, 40), st.floats(allow_nan=False)), max_size=60),
)
def test_holds_the_newest_timestamps_with_their_latest_values(
    size: int, points: list[tuple[int, float]]
) -> None:
    window = RecentReadings(size)
    latest: dict[int, float] = {}
    for ts_ms, value in points:
        window.add([Reading("d", ts_ms, {"m": value})])
        latest[ts_ms] = value
    newest = sorted(latest)[-size:]
    assert window.get("d", None, size).get("m", []) == [(ts, latest[ts]) for ts in newest]
