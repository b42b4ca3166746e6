from __future__ import annotations

import pytest

from wattline.api.ratelimit import MemoryRateLimiter as RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


def test_burst_then_steady_rate_per_client() -> None:
    clock = Clock()
    limiter = RateLimiter(rate_per_s=2.0, burst=3, clock_s=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [None, None, None]
    assert limiter.acquire("a") == pytest.approx(0.5)
    assert limiter.acquire("b") is None  # another client has its own bucket
    clock.now_s = 0.5
    assert limiter.acquire("a") is None
    assert limiter.acquire("a") == pytest.approx(0.5)


def test_tokens_never_exceed_the_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(rate_per_s=100.0, burst=2, clock_s=clock)
    clock.now_s = 3600.0
    assert [limiter.acquire("a") is None for _ in range(3)] == [True, True, False]


def test_idle_clients_are_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(rate_per_s=1.0, burst=1, clock_s=clock)
    for i in range(100):
        limiter.acquire(f"scanner-{i}")
    clock.now_s = 10_000.0
    limiter.acquire("new")
    assert len(limiter._buckets) == 1


def test_memory_is_bounded_by_evicting_the_least_recently_used() -> None:
    clock = Clock()
    limiter = RateLimiter(rate_per_s=1.0, burst=1, clock_s=clock, max_keys=3)
    for key in ("a", "b", "c"):
        assert limiter.acquire(key) is None
    assert limiter.acquire("a") is not None  # "a" is now the most recently used
    assert limiter.acquire("d") is None  # evicts "b", the least recently used
    assert len(limiter) == 3
    assert limiter.acquire("a") is not None  # kept: still limited
    assert limiter.acquire("b") is None  # forgotten: a fresh bucket (and "c" goes)
    assert len(limiter) == 3
