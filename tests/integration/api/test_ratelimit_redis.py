"""The Redis rate limiter against a real Redis: one limit shared by every limiter object."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest
from redis import Redis, RedisError
from redis.backoff import NoBackoff
from redis.retry import Retry
from tests.conftest import free_port, unavailable

from wattline.api.ratelimit import MemoryRateLimiter
from wattline.api.ratelimit_redis import RedisRateLimiter
from wattline.config import Settings
from wattline.runtime.limits import rate_limits

REDIS_URL = os.environ.get("WATTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_client() -> Iterator[Redis]:
    client = Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except RedisError as exc:
        client.close()
        unavailable(f"no Redis at {REDIS_URL}: {exc}")
    yield client
    client.close()


@pytest.fixture
def prefix(redis_client: Redis) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    unique = f"wattline-test:{uuid.uuid4().hex}:"
    yield unique
    keys = list(redis_client.scan_iter(match=unique + "*"))
    if keys:
        redis_client.delete(*keys)


def _wait_until_allowed(limiter: RedisRateLimiter, key: str, timeout_s: float = 5.0) -> float:
    """Seconds until a request for key was allowed again, polling as Retry-After says."""
    start = time.monotonic()
    while (wait_s := limiter.acquire(key)) is not None:
        assert time.monotonic() - start < timeout_s, "never allowed again"
        time.sleep(min(wait_s, 0.05))
    return time.monotonic() - start


def test_burst_then_refused_with_the_wait(redis_client: Redis, prefix: str) -> None:
    limiter = RedisRateLimiter(redis_client, prefix, rate_per_s=5.0, burst=3)
    assert [limiter.acquire("a") for _ in range(3)] == [None, None, None]
    wait_s = limiter.acquire("a")
    assert wait_s is not None
    assert 0 < wait_s <= 0.2  # one interval at 5/s, less the time the calls took
    assert limiter.acquire("b") is None  # another key has its own limit
    assert _wait_until_allowed(limiter, "a") <= 1.0


def test_limiters_sharing_redis_share_the_limit(redis_client: Redis, prefix: str) -> None:
    """Two API processes are two limiter objects on one Redis key space."""
    first = RedisRateLimiter(redis_client, prefix, rate_per_s=1.0, burst=2)
    second = RedisRateLimiter(redis_client, prefix, rate_per_s=1.0, burst=2)
    assert first.acquire("user:u1") is None
    assert second.acquire("user:u1") is None
    assert first.acquire("user:u1") is not None
    assert second.acquire("user:u1") is not None


def test_keys_expire_once_the_bucket_is_full_again(redis_client: Redis, prefix: str) -> None:
    limiter = RedisRateLimiter(redis_client, prefix, rate_per_s=10.0, burst=2)
    limiter.acquire("k")
    ttl_ms = redis_client.pttl(prefix + "k")
    assert 0 < ttl_ms <= 102


def test_an_unreachable_redis_lets_requests_through_without_waiting() -> None:
    client = Redis(
        port=free_port(),
        socket_timeout=0.2,
        socket_connect_timeout=0.2,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        limiter = RedisRateLimiter(client, "wattline-test:", rate_per_s=1.0, burst=1)
        assert limiter.acquire("a") is None  # the one attempt, refused at once
        started = time.monotonic()
        assert [limiter.acquire("a") for _ in range(100)] == [None] * 100
        assert time.monotonic() - started < 0.1  # Redis was not asked again
    finally:
        client.close()


def test_the_runtime_picks_redis_when_a_url_is_set(redis_client: Redis) -> None:
    del redis_client  # only for the skip (or CI failure) without a Redis
    with rate_limits(Settings(redis_url=REDIS_URL)) as shared:
        assert isinstance(shared.api.by_address, RedisRateLimiter)
        assert isinstance(shared.api.by_principal, RedisRateLimiter)
        assert isinstance(shared.http_ingest, RedisRateLimiter)
    with rate_limits(Settings(redis_url=None)) as local:
        assert isinstance(local.api.by_address, MemoryRateLimiter)


def test_deployments_with_their_own_prefix_never_share_an_allowance(
    redis_client: Redis, prefix: str
) -> None:
    """Two deployments on one Redis: the same user draws on each one's own burst."""
    del redis_client  # only for the skip (or CI failure) without a Redis

    def settings(deployment: str) -> Settings:
        return Settings(
            redis_url=REDIS_URL,
            redis_ratelimit_prefix=f"{prefix}{deployment}:",
            api_principal_rate_per_s=0.001,
            api_principal_burst=2,
        )

    with (
        rate_limits(settings("a")) as first,
        rate_limits(settings("a")) as first_again,
        rate_limits(settings("b")) as second,
    ):
        assert first.api.by_principal.acquire("admin") is None
        assert first_again.api.by_principal.acquire("admin") is None
        # the deployment's two processes share its burst of two; the other has its own
        assert first.api.by_principal.acquire("admin") is not None
        assert second.api.by_principal.acquire("admin") is None
