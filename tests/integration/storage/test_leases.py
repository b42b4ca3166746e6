"""One leader per job: the lease passes only when its holder stops renewing."""

from __future__ import annotations

from wattline.storage.sql import SqlStore
from wattline.storage.sql.leases import SqlLeases, holder_name


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


def test_one_holder_at_a_time_until_the_lease_expires(store: SqlStore) -> None:
    clock = Clock()
    leases = SqlLeases(store.engine, clock)
    first, second = holder_name(), holder_name()
    assert first != second
    assert leases.try_acquire("alerts", first, 10_000)
    assert not leases.try_acquire("alerts", second, 10_000)
    clock.now += 5_000
    assert leases.try_acquire("alerts", first, 10_000)  # renewed to now + 10 s
    clock.now += 9_000
    assert not leases.try_acquire("alerts", second, 10_000)
    assert leases.holder("alerts") == first
    clock.now += 1_000
    assert leases.holder("alerts") is None
    assert leases.try_acquire("alerts", second, 10_000)
    assert not leases.try_acquire("alerts", first, 10_000)


def test_jobs_are_independent_and_release_hands_over_at_once(store: SqlStore) -> None:
    leases = SqlLeases(store.engine, Clock())
    assert leases.try_acquire("alerts", "a", 60_000)
    assert leases.try_acquire("scheduler", "b", 60_000)
    leases.release("alerts", "b")  # not b's to release
    assert leases.holder("alerts") == "a"
    leases.release("alerts", "a")
    assert leases.try_acquire("alerts", "b", 60_000)
