"""The rate limiters the settings ask for: in this process, or in Redis for every process."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from wattline.api.compat.smartsolar import TOKENLESS_REQUESTS_PER_HOUR
from wattline.api.ratelimit import ApiRateLimits, MemoryRateLimiter, RateLimiter
from wattline.config import Settings

# A rate limit must not stall a request: Redis answers in well under a millisecond,
# and a limiter that gets no answer in time lets the request through.
_REDIS_TIMEOUT_S = 0.5


# The smart-solar seed's limit on ingest without a token, per address (api/compat/smartsolar.py).
TOKENLESS_RATE_PER_S = TOKENLESS_REQUESTS_PER_HOUR / 3600


@dataclass(frozen=True, slots=True)
class RateLimits:
    http_ingest: RateLimiter
    api: ApiRateLimits
    tokenless_ingest: RateLimiter


@contextlib.contextmanager
def rate_limits(settings: Settings) -> Iterator[RateLimits]:
    if settings.redis_url is None:
        yield RateLimits(
            http_ingest=MemoryRateLimiter(
                settings.http_ingest_rate_per_s, settings.http_ingest_burst
            ),
            api=ApiRateLimits(
                by_address=MemoryRateLimiter(
                    settings.api_address_rate_per_s, settings.api_address_burst
                ),
                by_principal=MemoryRateLimiter(
                    settings.api_principal_rate_per_s, settings.api_principal_burst
                ),
            ),
            tokenless_ingest=MemoryRateLimiter(TOKENLESS_RATE_PER_S, TOKENLESS_REQUESTS_PER_HOUR),
        )
        return
    # Imported here so redis loads only for deployments that use it.
    from redis import Redis  # noqa: PLC0415
    from redis.backoff import NoBackoff  # noqa: PLC0415
    from redis.retry import Retry  # noqa: PLC0415

    from wattline.api.ratelimit_redis import RedisRateLimiter  # noqa: PLC0415

    prefix = settings.redis_ratelimit_prefix
    client = Redis.from_url(
        settings.redis_url,
        socket_timeout=_REDIS_TIMEOUT_S,
        socket_connect_timeout=_REDIS_TIMEOUT_S,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        yield RateLimits(
            http_ingest=RedisRateLimiter(
                client,
                prefix + "ingest:",
                settings.http_ingest_rate_per_s,
                settings.http_ingest_burst,
            ),
            api=ApiRateLimits(
                by_address=RedisRateLimiter(
                    client,
                    prefix + "api:",
                    settings.api_address_rate_per_s,
                    settings.api_address_burst,
                ),
                by_principal=RedisRateLimiter(
                    client,
                    prefix + "api:",
                    settings.api_principal_rate_per_s,
                    settings.api_principal_burst,
                ),
            ),
            tokenless_ingest=RedisRateLimiter(
                client,
                prefix + "tokenless:",
                TOKENLESS_RATE_PER_S,
                TOKENLESS_REQUESTS_PER_HOUR,
            ),
        )
    finally:
        client.close()
