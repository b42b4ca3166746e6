"""Which monthly partitions a batch needs: by day, as by each instant."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from wattline.storage.partitions import Month, months_of

# Around month ends, and anywhere a millisecond count can reach (datetime's limits included).
instants = (
    st.integers(-(2**62), 2**62)
    | st.integers(1_735_689_600_000 - 5, 1_735_689_600_000 + 5)  # 2024 into 2025
    | st.integers(-62_135_596_800_001, -62_135_596_799_999)  # the start of year 1
    | st.integers(253_370_764_800_000 - 2, 253_370_764_800_000 + 2)  # the start of year 9999
)


@given(st.lists(instants, max_size=50))
def test_months_by_day_are_the_months_of_each_instant(timestamps: list[int]) -> None:
    want = {month for ts in timestamps if (month := Month.of(ts)) is not None}
    assert months_of(timestamps) == want


def test_the_last_millisecond_of_a_month_is_in_that_month() -> None:
    end_of_november = 1_764_547_200_000 - 1  # 2025-11-30T23:59:59.999Z
    assert months_of([end_of_november, end_of_november + 1]) == {Month(2025, 11), Month(2025, 12)}
