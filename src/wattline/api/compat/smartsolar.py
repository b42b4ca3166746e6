"""The smart-solar seed (seeds/000): its health answers, and HTTP ingest without a token.

Its health check answers ``{"status": "healthy"}`` (503 ``{"status": "unhealthy",
"error"}``); its dashboard reads ``{overall_health, active_devices, total_devices}``.

Its devices posted telemetry with no credential, limited to 100 requests an hour
per address. Wattline stores no reading it cannot attribute: such a body is taken
at ``POST /compat/smartsolar/telemetry`` under the same limit, and each device's
items are quarantined as ``unknown_device``, byte for byte. An admin onboards the
device (register it, issue its HTTP token, replay the quarantined messages); from
then on it sends with its token to ``POST /api/v1/telemetry``.
"""

from __future__ import annotations

import math
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from starlette.concurrency import run_in_threadpool

from wattline.api.deps import PUBLIC, PrincipalDep, ServicesDep, StoreDep, require
from wattline.api.routers import health
from wattline.api.routers.devices import connection_status
from wattline.api.schemas import HttpIngestOut, HttpRejectionOut
from wattline.model.messages import ConnectionState
from wattline.security.roles import Role

PREFIX = "/compat/smartsolar"
# The seed's per-address limit on unauthenticated ingest, kept: 100 requests an hour.
TOKENLESS_REQUESTS_PER_HOUR = 100
# A device's honest batch is a few kB; an anonymous caller gets far less room than
# /api/v1/telemetry's 1 MiB.
MAX_TOKENLESS_BODY_BYTES = 64 * 1024

public = APIRouter(prefix=PREFIX, tags=["compat: smart solar"], dependencies=[PUBLIC])
router = APIRouter(prefix=PREFIX, tags=["compat: smart solar"])


@public.get("/health", responses={503: {"description": "the database or collector is down"}})
def solar_health(services: ServicesDep, response: Response) -> dict[str, str]:
    answer = health.health(services, response)
    if answer.status == "down":
        down = [
            f"{name}: {c.detail or c.status}"
            for name, c in answer.components.items()
            if c.status == "down"
        ]
        return {"status": "unhealthy", "error": "; ".join(down)}
    return {"status": "healthy"}


@router.get("/system-health", dependencies=[require(Role.VIEWER)])
def system_health(
    store: StoreDep, services: ServicesDep, principal: PrincipalDep, response: Response
) -> dict[str, Any]:
    """The dashboard's summary of your tenant: health, devices online of all."""
    devices = store.list_devices(tenant_id=principal.tenant_id)
    now_ms = time.time_ns() // 1_000_000
    online = sum(
        connection_status(d, now_ms, services.offline_after_ms) is ConnectionState.ONLINE
        for d in devices
    )
    overall = health.health(services, response).status
    return {
        "overall_health": {"ok": "healthy", "degraded": "degraded"}.get(overall, "unhealthy"),
        "active_devices": online,
        "total_devices": len(devices),
    }


@public.post(
    "/telemetry",
    status_code=status.HTTP_202_ACCEPTED,
    max_body_size=MAX_TOKENLESS_BODY_BYTES,
    responses={
        413: {"description": "body over 64 kB"},
        429: {"description": "100 requests an hour per address; see Retry-After"},
        501: {"description": "token-less ingest is not offered in this process"},
    },
)
async def tokenless_telemetry(request: Request, services: ServicesDep) -> HttpIngestOut:
    """Telemetry from a device that sends no token: quarantined as ``unknown_device``
    for an admin to claim, never stored as readings. 202: kept, not accepted."""
    limiter = services.tokenless_ingest_limiter
    if services.http_ingest is None or limiter is None:
        raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, "token-less ingest is not offered")
    client = request.client.host if request.client else "unknown"
    wait_s = await run_in_threadpool(limiter.acquire, f"tokenless:{client}")
    if wait_s is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"{TOKENLESS_REQUESTS_PER_HOUR} requests an hour per address without a token;"
            f" retry in {math.ceil(wait_s)} s, or send with the device's token",
            headers={"Retry-After": str(math.ceil(wait_s))},
        )
    body = await request.body()
    result = await run_in_threadpool(services.http_ingest.quarantine_unidentified, body)
    return HttpIngestOut(
        accepted=0,
        samples_stored=0,
        rejected=[
            HttpRejectionOut(device_id=r.device_id, reason=r.reason, detail=r.detail)
            for r in result.rejected
        ],
    )
