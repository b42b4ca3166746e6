from __future__ import annotations

import math

from fastapi import APIRouter, HTTPException, Request, Response, status
from starlette.concurrency import run_in_threadpool

from wattline.api.deps import AdminFirstRoute, ServicesDep, require
from wattline.api.schemas import HttpIngestOut, HttpRejectionOut
from wattline.security.roles import Role

# HTTP ingest is device-facing and not tenant-scoped: readings land on the
# device ids they name, and devices it registers (demo mode) join the default
# tenant. So it keeps the admin token's permission, in the platform's tenant.
router = APIRouter(
    prefix="/api/v1",
    tags=["ingest"],
    dependencies=[require(Role.ADMIN, platform=True)],
    route_class=AdminFirstRoute,
)

# Far above any honest batch of smart-solar items. Starlette counts the bytes as
# they arrive (Content-Length or chunked) and answers 413 past it.
MAX_BODY_BYTES = 1024 * 1024


@router.post(
    "/telemetry",
    max_body_size=MAX_BODY_BYTES,
    responses={
        413: {"description": "body over 1 MiB"},
        422: {"description": "every item was rejected (and quarantined)"},
        429: {"description": "rate limit; see Retry-After"},
        501: {"description": "no ingest pipeline in this process"},
    },
)
async def post_telemetry(
    request: Request, services: ServicesDep, response: Response
) -> HttpIngestOut:
    """Telemetry over HTTP for devices that cannot speak MQTT, in the smart-solar format:
    an item or a list of ``{"device_id", "data_type", "value", "timestamp"}``.
    Returns after the readings are committed."""
    if services.http_ingest is None or services.rate_limiter is None:
        raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, "HTTP ingest needs the pipeline")
    client = request.client.host if request.client else "unknown"
    wait_s = services.rate_limiter.acquire(client)
    if wait_s is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"rate limit exceeded for {client}; retry in {wait_s:.1f} s",
            headers={"Retry-After": str(math.ceil(wait_s))},
        )
    body = await request.body()
    result = await run_in_threadpool(services.http_ingest.ingest, body)
    out = HttpIngestOut(
        accepted=result.accepted_messages,
        samples_stored=result.samples_stored,
        rejected=[
            HttpRejectionOut(device_id=r.device_id, reason=r.reason, detail=r.detail)
            for r in result.rejected
        ],
    )
    if result.accepted_messages == 0:
        response.status_code = status.HTTP_422_UNPROCESSABLE_CONTENT
    return out
