from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel, Field

from wattline.api.audit_trail import AuditDep
from wattline.api.command_schemas import provisioning_keys
from wattline.api.credential_schemas import issued_out
from wattline.api.cursors import DEFAULT_PAGE, decode_str, encode
from wattline.api.deps import AdminFirstRoute, PrincipalDep, ServicesDep, StoreDep, require
from wattline.api.paging import CursorParam, LimitParam, page_start
from wattline.api.routers.credentials import answered, device_keys
from wattline.api.schemas import (
    DeviceCreate,
    DeviceDeletedOut,
    DeviceList,
    DeviceOut,
    DevicePatch,
    LatestValueOut,
    LocationIn,
    ProvisionedDeviceOut,
)
from wattline.api.tenancy import not_registered, owned_device, readable_device
from wattline.model.devices import Device, LatestValue, Location
from wattline.model.messages import ConnectionState
from wattline.model.metrics import shown
from wattline.model.times import iso_ms
from wattline.security.device_credentials import CredentialKind
from wattline.security.roles import Role
from wattline.storage.keyset import DeviceFilter
from wattline.storage.tenancy import DeviceIdTakenError
from wattline.transfer.device_archive import archive_device

router = APIRouter(prefix="/api/v1/devices", tags=["devices"], route_class=AdminFirstRoute)
# beside /devices, not under it: "summary" is a valid device id
summary_router = APIRouter(prefix="/api/v1", tags=["devices"], route_class=AdminFirstRoute)
# Device ids, types and tags are made of these (api/schemas.py), so a search
# outside them matches nothing; the tags' JSON quotes and commas are outside too.
SEARCH_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"


class DeviceSummaryOut(BaseModel):
    total: int
    by_status: dict[str, int] = Field(description="online, offline and unknown")
    without_readings: int = Field(description="devices with no latest value")
    types: list[str] = Field(description="the device types in use")
    tags: list[str] = Field(description="the tags in use")


def connection_status(device: Device, now_ms: int, offline_after_ms: int) -> ConnectionState:
    """What the device reported, unless it has been silent too long to believe it."""
    if device.state is ConnectionState.ONLINE:
        silent = device.last_seen_ms is None or now_ms - device.last_seen_ms > offline_after_ms
        return ConnectionState.OFFLINE if silent else ConnectionState.ONLINE
    if device.state is ConnectionState.UNKNOWN and device.last_seen_ms is not None:
        recent = now_ms - device.last_seen_ms <= offline_after_ms
        return ConnectionState.ONLINE if recent else ConnectionState.OFFLINE
    return device.state


def latest_out(values: list[LatestValue]) -> dict[str, LatestValueOut]:
    return {
        v.metric: LatestValueOut(value=shown(v.metric, v.value), ts=iso_ms(v.ts_ms)) for v in values
    }


def device_out(device: Device, latest: list[LatestValue], offline_after_ms: int) -> DeviceOut:
    now_ms = time.time_ns() // 1_000_000
    return DeviceOut(
        device_id=device.device_id,
        type=device.device_type,
        firmware_version=device.firmware_version,
        capabilities=list(device.capabilities),
        status=connection_status(device, now_ms, offline_after_ms).value,
        reported_state=device.state.value,
        last_seen=iso_ms(device.last_seen_ms) if device.last_seen_ms is not None else None,
        registered_at=iso_ms(device.registered_ms),
        tags=list(device.tags),
        latest=latest_out(latest),
        location=(
            LocationIn(
                latitude_deg=device.location.latitude_deg,
                longitude_deg=device.location.longitude_deg,
            )
            if device.location is not None
            else None
        ),
    )


@router.get(
    "",
    dependencies=[require(Role.VIEWER)],
    responses={422: {"description": "a malformed cursor or filter"}},
)
def list_devices(  # noqa: PLR0913, PLR0917 - the documented query parameters
    store: StoreDep,
    principal: PrincipalDep,
    services: ServicesDep,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_PAGE,
    type: Annotated[  # noqa: A002 - the documented parameter name
        str | None, Query(description="only devices of this type")
    ] = None,
    tag: Annotated[str | None, Query(description="only devices with this tag")] = None,
    status: Annotated[
        ConnectionState | None, Query(description="only devices with this status")
    ] = None,
    search: Annotated[
        str | None,
        Query(
            pattern=SEARCH_PATTERN,
            description="only devices whose id, type or a tag contains this (any case)",
        ),
    ] = None,
) -> DeviceList:
    """The tenant's devices in id order, a page at a time: pass ``next_cursor`` back as
    ``cursor``. Devices shared with you by other tenants are listed at /shared-devices."""
    after = page_start(lambda text: decode_str("devices", text), cursor)
    now_ms = time.time_ns() // 1_000_000
    where = DeviceFilter(type, tag, status, now_ms, services.offline_after_ms, search)
    devices = store.device_page(after, limit + 1, where, tenant_id=principal.tenant_id)
    page = devices[:limit]
    latest = store.latest_values([d.device_id for d in page]) if page else {}
    items = [device_out(d, latest.get(d.device_id, []), services.offline_after_ms) for d in page]
    next_cursor = encode("devices", page[-1].device_id) if len(devices) > limit else None
    return DeviceList(devices=items, count=len(items), next_cursor=next_cursor)


@summary_router.get("/device-summary", dependencies=[require(Role.VIEWER)])
def device_summary(
    store: StoreDep, services: ServicesDep, principal: PrincipalDep
) -> DeviceSummaryOut:
    """The tenant's devices at a glance: counts by status, how many have never sent a
    reading, and the types and tags in use (the fleet page's header and filters)."""
    summary = store.device_summary(
        tenant_id=principal.tenant_id,
        now_ms=time.time_ns() // 1_000_000,
        offline_after_ms=services.offline_after_ms,
    )
    return DeviceSummaryOut(
        total=summary.total,
        by_status=summary.by_status,
        without_readings=summary.without_readings,
        types=summary.types,
        tags=summary.tags,
    )


@router.get(
    "/{device_id}",
    dependencies=[require(Role.VIEWER)],
    responses={404: {"description": "no such device in your tenant, nor shared with you"}},
)
def get_device(
    device_id: str, store: StoreDep, services: ServicesDep, principal: PrincipalDep
) -> DeviceOut:
    device = readable_device(store, principal, device_id)
    latest = store.latest_values([device_id]).get(device_id, [])
    return device_out(device, latest, services.offline_after_ms)


@router.patch(
    "/{device_id}",
    dependencies=[require(Role.ADMIN)],
    responses={404: {"description": "no such device in your tenant"}},
)
def patch_device(  # noqa: PLR0913, PLR0917 - the path and body, then dependencies
    device_id: str,
    body: DevicePatch,
    store: StoreDep,
    services: ServicesDep,
    principal: PrincipalDep,
    audit: AuditDep,
) -> DeviceOut:
    """Change a device's settings: today its ``location`` (latitude and longitude), which
    sunrise/sunset schedules without coordinates of their own use. A field left out of
    the body is unchanged; ``"location": null`` clears it."""
    owned_device(store, principal, device_id)
    if "location" in body.model_fields_set:
        given = body.location
        place = Location(given.latitude_deg, given.longitude_deg) if given else None
        changed = store.set_location(device_id, place, tenant_id=principal.tenant_id)
        if changed is None:  # deleted meanwhile
            raise not_registered(device_id)
        audit.record(
            "device.update",
            f"device:{device_id}",
            {"location": given.model_dump() if given else None},
        )
    device = owned_device(store, principal, device_id)
    latest = store.latest_values([device_id]).get(device_id, [])
    return device_out(device, latest, services.offline_after_ms)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require(Role.ADMIN)],
    responses={
        200: {"model": ProvisionedDeviceOut},
        409: {"description": "device id is taken, or a credential cannot be issued now"},
        503: {"description": "the broker refused the device's account"},
    },
)
def register_device(  # noqa: PLR0913, PLR0917 - the body, then dependencies
    body: DeviceCreate,
    store: StoreDep,
    services: ServicesDep,
    response: Response,
    principal: PrincipalDep,
    audit: AuditDep,
) -> ProvisionedDeviceOut:
    """Register a device in your tenant so its messages are accepted outside demo mode,
    and issue the ``credentials`` asked for: their secrets are in this answer, never again.
    Idempotent for the device. Device ids are one namespace across tenants (MQTT topics
    are): an id another tenant holds answers 409, without saying whose it is."""
    kinds = [CredentialKind(kind) for kind in dict.fromkeys(body.credentials or [])]
    keys = device_keys(services, principal, audit) if kinds else None
    if keys is not None:
        with answered():  # refused before anything changes
            keys.check(body.device_id, kinds)
    try:
        device, created = store.register_device(
            body.device_id,
            body.type,
            time.time_ns() // 1_000_000,
            body.tags,
            tenant_id=principal.tenant_id,
        )
    except DeviceIdTakenError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    if not created:
        response.status_code = status.HTTP_200_OK
    audit.record(
        "device.create" if created else "device.update",
        f"device:{device.device_id}",
        {"type": device.device_type, "tags": list(device.tags)},
    )
    issued = []
    if keys is not None:
        with answered():
            command_keys = provisioning_keys(services.commands, principal.tenant_id)
            issued = [issued_out(keys.issue(device.device_id, k), command_keys) for k in kinds]
    out = device_out(device, [], services.offline_after_ms)
    return ProvisionedDeviceOut(**out.model_dump(), credentials=issued)


@router.delete(
    "/{device_id}",
    dependencies=[require(Role.ADMIN)],
    responses={
        404: {"description": "no such device"},
        501: {"description": "archiving is not configured in this process"},
    },
)
def delete_device(  # noqa: PLR0913, PLR0917 - the path and query, then dependencies
    device_id: str,
    samples: Annotated[
        Literal["delete", "archive"],
        Query(description="delete the device's data, or archive it as Parquet first"),
    ],
    store: StoreDep,
    services: ServicesDep,
    audit: AuditDep,
    principal: PrincipalDep,
) -> DeviceDeletedOut:
    """Remove a device with its samples, rollups, latest values and sequence state.

    Nothing of it stays behind; with ``samples=archive`` every row is first
    written to Parquet under the data dir's ``deleted-devices/``.
    """
    owned_device(store, principal, device_id)
    archived_to = None
    if samples == "archive":
        if services.deleted_devices_dir is None:
            raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, "no folder for archives here")
        folder, _ = archive_device(
            store, device_id, services.deleted_devices_dir, time.time_ns() // 1_000_000
        )
        archived_to = str(folder)
    removed = store.delete_device(device_id, tenant_id=principal.tenant_id)
    if removed is None:  # deleted meanwhile
        raise not_registered(device_id)
    if services.forget_device is not None:
        services.forget_device(device_id)
    audit.record("device.delete", f"device:{device_id}", {"samples": samples, "removed": removed})
    return DeviceDeletedOut(
        device_id=device_id, samples=samples, archived_to=archived_to, removed=removed
    )
