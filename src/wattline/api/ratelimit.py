"""Rate limits: one small interface, a token bucket per key in memory, or GCRA in Redis.

``acquire(key)`` takes one request's worth for ``key`` and answers None (go on)
or the seconds until the next request would be allowed (the 429's
``Retry-After``). The API uses three limiters: HTTP ingest per client, every
``/api/v1`` request per client address before authentication
(``AddressLimitMiddleware``), and per principal after it (``limit_principal``).
In memory each API process counts alone; with ``WATTLINE_REDIS_URL`` the
processes share counters (``ratelimit_redis.py``).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from fastapi import HTTPException, status
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

# Buckets idle this long are forgotten, so a scan of many addresses cannot grow memory.
IDLE_FORGET_S = 600.0
# And never more than this many keys at once (about 200 bytes each): an address
# scan faster than IDLE_FORGET_S evicts the least recently seen key instead.
MAX_KEYS = 100_000


class RateLimiter(Protocol):
    def acquire(self, key: str) -> float | None:
        """Take one request for key: None if allowed, else the seconds until one is."""
        ...


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated_s: float


class MemoryRateLimiter:
    """A token bucket per key: ``burst`` at once, then ``rate_per_s``; LRU-bounded."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        clock_s: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self._rate_per_s = rate_per_s
        self._burst = float(burst)
        self._clock_s = clock_s
        self._max_keys = max_keys
        # least recently used first
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float | None:
        now = self._clock_s()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                self._forget(now)
                bucket = self._buckets[key] = _Bucket(self._burst, now)
            else:
                self._buckets.move_to_end(key)
            elapsed = now - bucket.updated_s
            bucket.tokens = min(self._burst, bucket.tokens + elapsed * self._rate_per_s)
            bucket.updated_s = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return (1.0 - bucket.tokens) / self._rate_per_s

    def __len__(self) -> int:
        return len(self._buckets)

    def _forget(self, now: float) -> None:
        """Room for one more key: drop idle buckets, then the least recently used."""
        while self._buckets:
            oldest = next(iter(self._buckets.values()))
            if now - oldest.updated_s <= IDLE_FORGET_S and len(self._buckets) < self._max_keys:
                return
            self._buckets.popitem(last=False)


@dataclass(frozen=True, slots=True)
class ApiRateLimits:
    """The two limits on every /api/v1 request."""

    by_address: RateLimiter  # before authentication: floods without a token stop here
    by_principal: RateLimiter  # after it: per user or API key, from any address


def retry_after(wait_s: float) -> str:
    """Whole seconds, at least 1: a client retrying sooner would be refused again."""
    return str(max(1, math.ceil(wait_s)))


def limit_principal(limits: ApiRateLimits | None, kind: str, subject: str) -> None:
    """429 when the principal has used up its rate; called once authentication succeeds."""
    if limits is None:
        return
    wait_s = limits.by_principal.acquire(f"{kind}:{subject}")
    if wait_s is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many requests for this user or API key; retry after Retry-After seconds",
            headers={"Retry-After": retry_after(wait_s)},
        )


class AddressLimitMiddleware:
    """Limits every request under ``prefix`` by client address, before anything else runs."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, prefix: str = "/api/v1") -> None:
        self._app = app
        self._limiter = limiter
        self._prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self._prefix):
            await self._app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else "unknown"
        # In a worker thread: the Redis limiter makes a network round trip.
        wait_s = await run_in_threadpool(self._limiter.acquire, f"addr:{address}")
        if wait_s is None:
            await self._app(scope, receive, send)
            return
        response = JSONResponse(
            {"detail": "too many requests from this address; retry after Retry-After seconds"},
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": retry_after(wait_s)},
        )
        await response(scope, receive, send)
