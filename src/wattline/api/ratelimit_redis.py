"""The rate limit shared by every API process: GCRA in one Lua script on Redis.

GCRA (the generic cell rate algorithm) keeps one number per key, the
"theoretical arrival time" of the next request, and allows a request while
that time is at most ``burst`` intervals ahead of now: the same burst-then-rate
behaviour as the in-memory token bucket. The script reads and writes the key
atomically on the server, with the server's clock, so processes on machines
with drifting clocks still share one limit. Keys expire when their bucket
would be full again, so idle clients cost Redis nothing.
"""

from __future__ import annotations

import logging
import time
from typing import cast

from redis import Redis, RedisError

log = logging.getLogger("wattline.ratelimit")
# While Redis is unreachable requests are allowed (a limit protects the API; it
# must not take the API down with it): after a failure Redis is left alone this
# long, so requests do not each wait out a connection timeout.
RETRY_REDIS_AFTER_S = 5.0

# KEYS[1]: the key. ARGV[1]: microseconds per request (1 / rate); ARGV[2]: burst.
# Returns -1 when allowed, else the microseconds until the next request is.
_GCRA = """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + interval
local allowed_at = next_tat - interval * burst
if now < allowed_at then return allowed_at - now end
redis.call('SET', KEYS[1], next_tat, 'PX', math.ceil((next_tat - now) / 1000) + 1)
return -1
"""


class RedisRateLimiter:
    def __init__(self, client: Redis, prefix: str, rate_per_s: float, burst: int) -> None:
        self._client = client
        self._prefix = prefix
        self._interval_us = max(1, round(1_000_000 / rate_per_s))
        self._burst = burst
        self._script = client.register_script(_GCRA)
        self._down_until_s = 0.0

    def acquire(self, key: str) -> float | None:
        if time.monotonic() < self._down_until_s:
            return None
        try:
            args = [self._interval_us, self._burst]
            wait_us = cast("int", self._script(keys=[self._prefix + key], args=args))
        except RedisError as exc:
            self._down_until_s = time.monotonic() + RETRY_REDIS_AFTER_S
            log.warning(
                "rate limits off for %.0f s, Redis unavailable: %s", RETRY_REDIS_AFTER_S, exc
            )
            return None
        return None if wait_us < 0 else wait_us / 1_000_000
