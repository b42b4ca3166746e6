"""Which days the compaction job may pack: whole UTC days, and only days already over."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from wattline.config import Settings
from wattline.storage.retention import compaction_cutoff_ms
from wattline.storage.rollups import DAY_MS

now = st.integers(10 * DAY_MS, 2**45)


@given(now_ms=now, after_days=st.floats(0, 400, allow_nan=False))
def test_the_cutoff_is_a_day_start_at_least_a_whole_day_back(
    now_ms: int, after_days: float
) -> None:
    cutoff_ms = compaction_cutoff_ms(now_ms, after_days)
    assert cutoff_ms % DAY_MS == 0
    # every packed day ended a day ago or more
    assert cutoff_ms <= now_ms - DAY_MS
    assert cutoff_ms <= now_ms - round(after_days * DAY_MS)


@pytest.mark.parametrize(("days", "ok"), [(0.99, False), (1, True), (2, True), (0, False)])
def test_the_setting_refuses_less_than_a_day(days: float, ok: bool) -> None:
    if ok:
        assert Settings(compact_after_days=days).compact_after_days == days
    else:
        with pytest.raises(ValidationError):
            Settings(compact_after_days=days)
