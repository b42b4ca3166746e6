"""Login throttling: locks after failures, caps the lock, bounded memory."""

from __future__ import annotations

from wattline.security.throttle import MemoryThrottle, ThrottlePolicy

ACCOUNT = ["acct:ana@example.org"]


def test_four_failures_pass_the_fifth_locks() -> None:
    throttle = MemoryThrottle()
    for i in range(4):
        throttle.failed(ACCOUNT, float(i))
        assert throttle.retry_after_s(ACCOUNT, float(i)) == 0
    throttle.failed(ACCOUNT, 4.0)
    assert throttle.retry_after_s(ACCOUNT, 4.0) == 30.0


def test_the_lock_doubles_and_is_capped() -> None:
    policy = ThrottlePolicy(threshold=5, base_lock_s=30, max_lock_s=900, window_s=10**9)
    throttle = MemoryThrottle(account=policy)
    locks = []
    for _ in range(15):
        throttle.failed(ACCOUNT, 0.0)
        locks.append(throttle.retry_after_s(ACCOUNT, 0.0))
    assert locks[4:9] == [30, 60, 120, 240, 480]
    assert max(locks) == 900


def test_failures_age_out_of_the_window() -> None:
    throttle = MemoryThrottle()
    for _ in range(4):
        throttle.failed(ACCOUNT, 0.0)
    throttle.failed(ACCOUNT, 15 * 60 + 1.0)
    assert throttle.retry_after_s(ACCOUNT, 15 * 60 + 1.0) == 0


def test_a_success_clears_the_account_but_not_the_address() -> None:
    throttle = MemoryThrottle(address=ThrottlePolicy(threshold=1))
    keys = [*ACCOUNT, "addr:10.0.0.1"]
    for _ in range(5):
        throttle.failed(keys, 0.0)
    throttle.succeeded(keys)
    assert throttle.retry_after_s(ACCOUNT, 0.0) == 0
    assert throttle.retry_after_s(["addr:10.0.0.1"], 0.0) > 0


def test_memory_is_bounded() -> None:
    throttle = MemoryThrottle(max_keys=100)
    for i in range(10_000):
        throttle.failed([f"acct:{i}@example.org", f"addr:10.0.{i // 256}.{i % 256}"], 0.0)
    assert len(throttle) == 100
