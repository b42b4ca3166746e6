"""Pairing (the smart-plug seed): a device asks for a short code and shows it; a tenant's
admin claims the device with it.

The device asks with its own HTTP ingest token (a bench tool: a platform admin
names the device). A code lives 10 minutes, is stored as its SHA-256, and is
spent by the one claim that moves the device out of the default tenant, where
unclaimed devices wait. Failed claims are counted per principal: 5 in 10
minutes, then 429 for the rest of the window.
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field

from wattline.api.deps import AdminDep, PrincipalDep, ServicesDep
from wattline.api.routers.ingest import INGEST_PERMISSION, ingest_bearer, ingest_caller
from wattline.api.services import ApiServices
from wattline.model.times import iso_ms
from wattline.protocols.validation import DEVICE_ID_RE
from wattline.security import pairing
from wattline.security.audit import AuditEvent
from wattline.security.throttle import MemoryThrottle, ThrottlePolicy
from wattline.storage.ports import PairingStore
from wattline.storage.tenancy import DEFAULT_TENANT

router = APIRouter(prefix="/api/v1/pairing", tags=["pairing"])


class CodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # None with a device's token: the device itself
    device_id: str | None = Field(default=None, max_length=64)


class CodeOut(BaseModel):
    code: str
    device_id: str
    expires_at: str


class ClaimRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=32)


class ClaimOut(BaseModel):
    device_id: str
    tenant_id: str


def _pairing(services: ApiServices) -> PairingStore:
    if services.pairing is None:
        raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, "pairing is not offered")
    return services.pairing


@router.post(
    "/codes",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(INGEST_PERMISSION)],
    responses={
        403: {"description": "a device token naming another device, or not a platform admin"},
        404: {"description": "no such device, or it is claimed already"},
        501: {"description": "pairing is not offered"},
    },
)
def create_code(
    request: Request,
    body: Annotated[CodeRequest, Body()],
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(ingest_bearer)],
) -> CodeOut:
    """A pairing code for an unclaimed device, to show to the person who claims it."""
    device = ingest_caller(services, request, credentials.credentials if credentials else None)
    store = _pairing(services)
    device_id = device or body.device_id
    if device_id is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "name the device_id")
    if device is not None and body.device_id not in {None, device}:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a device asks for its own code only")
    if (
        not DEVICE_ID_RE.fullmatch(device_id)
        or services.store.get_device(device_id, tenant_id=DEFAULT_TENANT) is None
    ):
        # Unknown, or claimed already (it left the default tenant): no new codes.
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no unclaimed device {device_id!r}")
    code = pairing.new_code(device_id, services.clock_ms())
    store.add_pairing_code(code.code_hash, device_id, code.created_ms, code.expires_ms)
    if services.audit is not None:
        services.audit.record(
            AuditEvent(
                action="pairing_code.create",
                actor=f"device:{device_id}" if device else "platform admin",
                object=f"device:{device_id}",
                tenant_id=DEFAULT_TENANT,
                summary={"expires_ms": code.expires_ms},
            )
        )
    return CodeOut(code=code.code, device_id=device_id, expires_at=iso_ms(code.expires_ms))


@router.post(
    "/claim",
    dependencies=[AdminDep],
    responses={
        404: {"description": "no such code, used already, or expired"},
        409: {"description": "the device belongs to a tenant already"},
        429: {"description": "too many failed claims"},
        501: {"description": "pairing is not offered"},
    },
)
def claim(
    body: Annotated[ClaimRequest, Body()], services: ServicesDep, principal: PrincipalDep
) -> ClaimOut:
    """Move the device whose code this is into the caller's tenant. The code is spent."""
    store = _pairing(services)
    keys = [f"pairing:{principal.kind.value}:{principal.subject}"]
    now_ms = services.clock_ms()
    throttle = services.pairing_throttle
    if throttle is not None:
        wait_s = throttle.retry_after_s(keys, now_ms / 1000)
        if wait_s > 0:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                "too many failed pairing claims",
                headers={"Retry-After": str(math.ceil(wait_s))},
            )
    outcome, device_id = pairing.PairingClaim.UNKNOWN, None
    if pairing.well_formed(body.code):
        outcome, device_id = store.claim_pairing_code(
            pairing.hash_code(body.code),
            tenant_id=principal.tenant_id,
            claimed_by=principal.subject,
            now_ms=now_ms,
        )
    if services.audit is not None:
        services.audit.record(
            AuditEvent(
                action="device.claim",
                actor=principal.display,
                object=f"device:{device_id}" if device_id else "pairing",
                tenant_id=principal.tenant_id,
                summary={"outcome": outcome.value},
            )
        )
    if outcome is pairing.PairingClaim.UNKNOWN or device_id is None:
        if throttle is not None:
            throttle.failed(keys, now_ms / 1000)
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such pairing code, or it expired")
    if outcome is pairing.PairingClaim.OWNED:
        raise HTTPException(status.HTTP_409_CONFLICT, "the device belongs to a tenant already")
    return ClaimOut(device_id=device_id, tenant_id=principal.tenant_id)


def claims_throttle() -> MemoryThrottle:
    """Failed claims per principal: MAX_FAILED_CLAIMS in the window, then locked for it."""
    window_s = pairing.FAILED_CLAIMS_WINDOW_S
    policy = ThrottlePolicy(
        threshold=pairing.MAX_FAILED_CLAIMS,
        window_s=window_s,
        base_lock_s=window_s,
        max_lock_s=window_s,
    )
    return MemoryThrottle(account=policy, address=policy)
