"""Halving a refused batch finds every culprit and commits everything else exactly once."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from wattline.ingest.poison import MAX_ERROR_CHARS, describe_store_error, isolate


class Ledger:
    """A store that refuses any batch holding a poisoned item, all or nothing."""

    def __init__(self, poisoned: set[int]) -> None:
        self.poisoned = poisoned
        self.committed: list[int] = []
        self.commits = 0

    def commit(self, items: Sequence[int]) -> Exception | None:
        self.commits += 1
        bad = [i for i in items if i in self.poisoned]
        if bad:
            return OverflowError(f"item {bad[0]} does not fit")
        self.committed += items
        return None


@given(
    size=st.integers(1, 300),
    poisoned=st.sets(st.integers(0, 299), min_size=1, max_size=8),
)
def test_every_culprit_is_rejected_and_every_other_item_committed_once(
    size: int, poisoned: set[int]
) -> None:
    items = list(range(size))
    poisoned = {i for i in poisoned if i < size} or {size - 1}
    ledger = Ledger(poisoned)
    first_error = ledger.commit(items)
    assert first_error is not None

    culprits = isolate(items, ledger.commit, first_error)

    assert sorted(item for item, _ in culprits) == sorted(poisoned)
    # each with the error that refused it alone, not a neighbour's
    assert all(str(item) in str(error) for item, error in culprits)
    assert sorted(ledger.committed) == [i for i in items if i not in poisoned]
    # about 2·k·log2(n) commits, never one per item for a large batch
    assert ledger.commits <= 1 + 2 * len(poisoned) * max(1, size.bit_length())


def test_a_store_error_is_described_in_one_bounded_line() -> None:
    class DriverError(Exception):
        pass

    class WrappedError(Exception):
        def __init__(self) -> None:
            super().__init__("[SQL: INSERT INTO samples ...] [parameters: (...)]" * 100)
            self.orig = DriverError("bigint out of range\n  at\0 column next_seq" + "x" * 1000)

    text = describe_store_error(WrappedError())
    assert text.startswith("the store refused it: DriverError: bigint out of range at\\0 column")
    assert "\n" not in text
    assert "SQL" not in text
    assert len(text) <= len("the store refused it: DriverError: ") + MAX_ERROR_CHARS
