"""The IoT-meter seed (seeds/001, 002): its device fields and its raw data over the API.

Its Device Manager answered devices with ``device_type`` (``power_meter_dc``,
``power_meter_ac``), ``connection_status`` and ``fw_version``, and served the raw
archive, whose objects were ``{device_id}/{category}/{timestamp}.json``. Wattline
archives in batched segments (never one object per message); this reads them for
one device and names each record as the seed's object key.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from wattline.api.cursors import DEFAULT_PAGE
from wattline.api.deps import AdminFirstRoute, PrincipalDep, ServicesDep, StoreDep, require
from wattline.api.paging import LimitParam
from wattline.api.routers.devices import connection_status
from wattline.api.series import bad_request, time_range
from wattline.api.services import ApiServices
from wattline.api.tenancy import check_readable, readable_device
from wattline.model.devices import Device
from wattline.model.metrics import shown
from wattline.model.times import iso_ms
from wattline.security.roles import Role

PREFIX = "/compat/meter"
# The archive is read a segment (an hour) at a time: a day is its widest request.
MAX_RAW_RANGE_MS = 24 * 3_600_000
DEFAULT_RAW_RANGE_MS = 3_600_000

router = APIRouter(prefix=PREFIX, tags=["compat: IoT meter"], route_class=AdminFirstRoute)


def meter_device(device: Device, latest: dict[str, float], services: ApiServices) -> dict[str, Any]:
    now_ms = time.time_ns() // 1_000_000
    return {
        "device_id": device.device_id,
        "device_type": device.device_type,
        "connection_status": connection_status(device, now_ms, services.offline_after_ms).value,
        "fw_version": device.firmware_version,
        "last_seen": iso_ms(device.last_seen_ms) if device.last_seen_ms is not None else None,
        "created_at": iso_ms(device.registered_ms),
        "metadata": {"capabilities": list(device.capabilities), "tags": list(device.tags)},
        "latest": {metric: shown(metric, value) for metric, value in latest.items()},
    }


@router.get("/devices", dependencies=[require(Role.VIEWER)])
def list_meters(
    store: StoreDep,
    services: ServicesDep,
    principal: PrincipalDep,
    device_type: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """Your tenant's devices, by id; ``device_type=power_meter_dc`` filters."""
    devices = sorted(
        (
            d
            for d in store.list_devices(tenant_id=principal.tenant_id)
            if device_type is None or d.device_type == device_type
        ),
        key=lambda d: d.device_id,
    )
    out = [meter_device(d, {}, services) for d in devices]
    return {"devices": out, "count": len(out)}


@router.get(
    "/devices/{device_id}",
    dependencies=[require(Role.VIEWER)],
    responses={404: {"description": "no such device"}},
)
def get_meter(
    device_id: str, store: StoreDep, services: ServicesDep, principal: PrincipalDep
) -> dict[str, Any]:
    device = readable_device(store, principal, device_id)
    latest = {v.metric: v.value for v in store.latest_values([device_id]).get(device_id, [])}
    return meter_device(device, latest, services)


def _names_device(topic: str, device_id: str) -> bool:
    # Every format puts the device id (a HyperVolt location, as sent) in one topic level.
    return device_id in topic.split("/") or device_id in {
        level.replace(" ", "_") for level in topic.split("/")
    }


@router.get(
    "/devices/{device_id}/raw",
    dependencies=[require(Role.ADMIN)],
    responses={
        404: {"description": "no such device"},
        422: {"description": "a bad range or category"},
        501: {"description": "no archive in this process"},
    },
)
def raw_objects(  # noqa: PLR0913, PLR0917 - the documented query parameters
    device_id: str,
    store: StoreDep,
    services: ServicesDep,
    principal: PrincipalDep,
    category: Annotated[
        str | None,
        Query(pattern=r"^[a-z_]{1,32}$", description="telemetry, hello, status, rejected..."),
    ] = None,
    start: Annotated[
        str | None, Query(description="ISO 8601 or epoch ms; default end - 1 h")
    ] = None,
    end: Annotated[str | None, Query(description="ISO 8601 or epoch ms; default now")] = None,
    limit: LimitParam = DEFAULT_PAGE,
) -> dict[str, Any]:
    """The device's messages as received, byte for byte (accepted or rejected), oldest
    first, each named ``{device_id}/{category}/{received_ms}.json`` as the seed's
    archive named them. At most a day per request."""
    check_readable(store, principal, device_id)
    if services.archive is None:
        raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, "no raw archive in this process")
    start_ms, end_ms = time_range(start, end)
    if start is None:
        start_ms = end_ms - DEFAULT_RAW_RANGE_MS
    if end_ms - start_ms > MAX_RAW_RANGE_MS:
        raise bad_request("start..end spans more than a day; ask a day at a time")
    objects = []
    for record in services.archive.read(category, since_ms=start_ms, until_ms=end_ms):
        if not _names_device(record.topic, device_id):
            continue
        objects.append(
            {
                "key": f"{device_id}/{record.category}/{record.received_ms}.json",
                "category": record.category,
                "topic": record.topic,
                "received_at": iso_ms(record.received_ms),
                "outcome": record.outcome,
                "payload": record.payload.decode("utf-8", errors="replace"),
            }
        )
        if len(objects) > limit:
            break
    return {
        "device_id": device_id,
        "start": iso_ms(start_ms),
        "end": iso_ms(end_ms),
        "objects": objects[:limit],
        "truncated": len(objects) > limit,
    }
