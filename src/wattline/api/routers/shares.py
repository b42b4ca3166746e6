"""Device shares (the smart-plug seed's shared devices): a tenant's admin makes one
device readable by a user of another tenant, as viewer or operator, and revokes it."""

from __future__ import annotations

import time
from typing import Literal

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, Field

from wattline.api.deps import AdminFirstRoute, PrincipalDep, ServicesDep, StoreDep, require
from wattline.api.routers.devices import device_out
from wattline.api.schemas import DeviceOut
from wattline.api.tenancy import not_registered, owned_device, share_user
from wattline.model.times import iso_ms
from wattline.security.roles import Role
from wattline.storage.tenancy import DeviceShare

router = APIRouter(prefix="/api/v1", tags=["sharing"], route_class=AdminFirstRoute)


class ShareCreate(BaseModel):
    user: str = Field(min_length=1, max_length=320, description="the user's email or id")
    role: Literal["viewer", "operator"] = Field(description="what the user may do with it")


class ShareOut(BaseModel):
    device_id: str
    user_id: str
    email: str
    role: str
    shared_by: str
    shared_at: str


class ShareList(BaseModel):
    shares: list[ShareOut]


class SharedDeviceOut(BaseModel):
    role: str = Field(description="the role the share grants on this device")
    shared_at: str
    device: DeviceOut


def _share_out(share: DeviceShare) -> ShareOut:
    return ShareOut(
        device_id=share.device_id,
        user_id=share.user.user_id,
        email=share.user.email,
        role=share.role.value,
        shared_by=share.shared_by,
        shared_at=iso_ms(share.created_ms),
    )


@router.post(
    "/devices/{device_id}/shares",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require(Role.ADMIN)],
    responses={404: {"description": "no such device in your tenant, or no such user"}},
)
def share_device(
    device_id: str, body: ShareCreate, store: StoreDep, principal: PrincipalDep
) -> ShareOut:
    """Share one of your tenant's devices with a user; sharing again changes the role."""
    owned_device(store, principal, device_id)
    user = store.find_user(body.user)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {body.user!r}")
    share = store.share_device(
        device_id,
        tenant_id=principal.tenant_id,
        user=user,
        role=Role(body.role),
        shared_by=principal.subject,
        now_ms=time.time_ns() // 1_000_000,
    )
    if share is None:  # deleted meanwhile
        raise not_registered(device_id)
    return _share_out(share)


@router.get(
    "/devices/{device_id}/shares",
    dependencies=[require(Role.ADMIN)],
    responses={404: {"description": "no such device in your tenant"}},
)
def list_shares(device_id: str, store: StoreDep, principal: PrincipalDep) -> ShareList:
    """Who the device is shared with, by email."""
    shares = store.device_shares(device_id, tenant_id=principal.tenant_id)
    if shares is None:
        raise not_registered(device_id)
    return ShareList(shares=[_share_out(s) for s in shares])


@router.delete(
    "/devices/{device_id}/shares/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[require(Role.ADMIN)],
    responses={404: {"description": "no such device in your tenant, or no such share"}},
)
def revoke_share(
    device_id: str, user_id: str, store: StoreDep, principal: PrincipalDep
) -> Response:
    """End a share: the user's next request for the device answers 404."""
    owned_device(store, principal, device_id)
    if not store.revoke_share(device_id, tenant_id=principal.tenant_id, user_id=user_id):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"device {device_id!r} is not shared with {user_id!r}"
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/shared-devices", dependencies=[require(Role.VIEWER)])
def list_shared_devices(
    store: StoreDep, services: ServicesDep, principal: PrincipalDep
) -> list[SharedDeviceOut]:
    """Devices other tenants shared with you (empty for API keys and the admin token)."""
    user_id = share_user(principal)
    if user_id is None:
        return []
    shared = store.shared_devices(user_id)
    latest = store.latest_values([s.device.device_id for s in shared]) if shared else {}
    return [
        SharedDeviceOut(
            role=s.role.value,
            shared_at=iso_ms(s.created_ms),
            device=device_out(
                s.device, latest.get(s.device.device_id, []), services.offline_after_ms
            ),
        )
        for s in shared
    ]
