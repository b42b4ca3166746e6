from __future__ import annotations

import math
import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from wattline.api.deps import RequiresRoleOrDeviceToken, ServicesDep, authenticate, services_of
from wattline.api.schemas import HttpIngestOut, HttpRejectionOut
from wattline.api.services import ApiServices
from wattline.ingest.sources.http import ForeignDeviceError
from wattline.security.device_credentials import HTTP_TOKEN_PREFIX, CredentialKind, hash_secret
from wattline.security.roles import Role

ingest_bearer = HTTPBearer(
    auto_error=False,
    description="an admin's credential, or a device's HTTP ingest token (wld_...)",
)


def ingest_caller(services: ApiServices, request: Request, bearer: str | None) -> str | None:
    """The one device a device token may send for; None for an admin, who may send for any.

    401 without a valid credential, 403 for a person or key below admin.
    """
    if bearer is not None and bearer.startswith(HTTP_TOKEN_PREFIX):
        found = None
        if services.credentials is not None:
            found = services.credentials.credential_for_secret(hash_secret(bearer))
        if (
            found is None
            or found.kind is not CredentialKind.HTTP_TOKEN
            or not found.active(time.time_ns() // 1_000_000)
        ):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "invalid device token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return found.device_id
    # Devices HTTP ingest registers (demo mode) join the default tenant, and it
    # writes to any device id: the platform's admins only, as for the quarantine.
    INGEST_PERMISSION.check(authenticate(services, request, bearer))
    return None


class _CallerFirstRoute(APIRoute):
    """Authenticates before the body is read (as ``AdminFirstRoute``, device tokens included)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        read_body_and_run = super().get_route_handler()

        async def caller_first(request: Request) -> Response:
            credentials = await ingest_bearer(request)
            request.state.ingest_device = ingest_caller(
                services_of(request), request, credentials.credentials if credentials else None
            )
            return await read_body_and_run(request)

        return caller_first


def get_ingest_device(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(ingest_bearer)],
) -> str | None:
    if hasattr(request.state, "ingest_device"):
        known: str | None = request.state.ingest_device
        return known
    return ingest_caller(services, request, credentials.credentials if credentials else None)


IngestDeviceDep = Annotated[str | None, Depends(get_ingest_device)]

INGEST_PERMISSION = RequiresRoleOrDeviceToken(Role.ADMIN, platform=True)
router = APIRouter(
    prefix="/api/v1",
    tags=["ingest"],
    route_class=_CallerFirstRoute,
    dependencies=[Depends(INGEST_PERMISSION)],
)

# Far above any honest batch of smart-solar items. Starlette counts the bytes as
# they arrive (Content-Length or chunked) and answers 413 past it.
MAX_BODY_BYTES = 1024 * 1024


@router.post(
    "/telemetry",
    max_body_size=MAX_BODY_BYTES,
    responses={
        403: {"description": "a device token sent items of another device"},
        413: {"description": "body over 1 MiB"},
        422: {"description": "every item was rejected (and quarantined)"},
        429: {"description": "rate limit; see Retry-After"},
        501: {"description": "no ingest pipeline in this process"},
    },
)
async def post_telemetry(
    request: Request, services: ServicesDep, response: Response, only_device: IngestDeviceDep
) -> HttpIngestOut:
    """Telemetry over HTTP for devices that cannot speak MQTT, in the smart-solar format:
    an item or a list of ``{"device_id", "data_type", "value", "timestamp"}``.
    Returns after the readings are committed. With a device's token (``wld_...``)
    every item must be that device's."""
    if services.http_ingest is None or services.rate_limiter is None:
        raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, "HTTP ingest needs the pipeline")
    client = request.client.host if request.client else "unknown"
    wait_s = await run_in_threadpool(services.rate_limiter.acquire, client)
    if wait_s is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"rate limit exceeded for {client}; retry in {wait_s:.1f} s",
            headers={"Retry-After": str(math.ceil(wait_s))},
        )
    body = await request.body()
    try:
        result = await run_in_threadpool(services.http_ingest.ingest, body, only_device)
    except ForeignDeviceError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
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
