"""The HyperVolt seed's sensor readings (seeds/004): ``/api/sensor-readings/`` and its
``latest``, ``recent`` and ``buffer`` actions.

A HyperVolt location is a Wattline device (``living room`` -> ``living_room``);
its sensor types are metrics (``ldr`` -> ``light_ldr``). A reading is answered
as the seed's model holds it: ``{location, sensor_type, value, timestamp}``.
Lists are cursor-paged, ``{"next", "previous", "results"}``, newest first.
Grid data is in ``hypervolt_grid.py``; preferences, energy sources and AI
decisions in ``hypervolt_home.py``.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from wattline.api.compat.names import reverse
from wattline.api.cursors import DEFAULT_PAGE, decode_reading, encode
from wattline.api.deps import AdminFirstRoute, PrincipalDep, ServicesDep, StoreDep, require
from wattline.api.paging import CursorParam, LimitParam, page_start
from wattline.api.params import MIN_TIME_MS
from wattline.api.routers.window import get_window
from wattline.api.series import now_ms
from wattline.api.tenancy import not_registered, readable_device
from wattline.model.devices import LatestValue
from wattline.model.times import iso_ms
from wattline.protocols.adapters.hypervolt import METRICS, location_device_id
from wattline.protocols.errors import ProtocolError
from wattline.security.principal import Principal
from wattline.security.roles import Role
from wattline.storage.ports import TelemetryStore

PREFIX = "/api/sensor-readings"
# metric -> sensor_type: light_ldr -> ldr
SENSOR_TYPES = reverse(METRICS)
SENSOR_METRICS = tuple(SENSOR_TYPES)
MAX_RECENT_MINUTES = 24 * 60

router = APIRouter(
    prefix=PREFIX,
    tags=["compat: HyperVolt"],
    dependencies=[require(Role.VIEWER)],
    route_class=AdminFirstRoute,
)

Location = Annotated[str | None, Query(max_length=200, description="only this location")]
SensorType = Annotated[
    str | None, Query(max_length=32, description="only this type: ldr, current, ...")
]
# A reading: timestamp, location, sensor type and value.
Row = tuple[int, str, str, float]


def _reading(row: Row) -> dict[str, Any]:
    ts_ms, location, sensor_type, value = row
    return {
        "location": location,
        "sensor_type": sensor_type,
        "value": value,
        "timestamp": iso_ms(ts_ms),
    }


def _metrics(sensor_type: str | None) -> list[str]:
    if sensor_type is None:
        return list(SENSOR_METRICS)
    metric = METRICS.get(sensor_type.lower())
    return [metric] if metric is not None else []


def _sensors(
    store: TelemetryStore, principal: Principal, location: str | None
) -> dict[str, list[LatestValue]]:
    """The caller's devices with HyperVolt sensor readings, in id order, with the newest
    reading of each sensor."""
    if location is not None:
        try:
            ids = [location_device_id(location)]
        except ProtocolError:
            raise not_registered(location) from None
        readable_device(store, principal, ids[0])
    else:
        ids = [d.device_id for d in store.list_devices(tenant_id=principal.tenant_id)]
    latest = store.latest_values(ids) if ids else {}
    found = {
        device_id: sorted(
            (v for v in latest.get(device_id, []) if v.metric in SENSOR_TYPES),
            key=lambda v: SENSOR_TYPES[v.metric],
        )
        for device_id in sorted(ids)
    }
    return {device_id: values for device_id, values in found.items() if values}


def _rows_before(  # noqa: PLR0913, PLR0917 - one device's page: range, filter, start
    store: TelemetryStore,
    device_id: str,
    metrics: Sequence[str],
    since_ms: int,
    before: tuple[int, str, str] | None,
    limit: int,
) -> Iterator[tuple[tuple[int, str, str], Row]]:
    """One location's readings newest first, past ``before``, keyed for the merge."""
    end_ms = before[0] + 1 if before is not None else now_ms() + 1
    # limit + 2: the first point may be the cursor's own, partly or wholly served already
    points = store.raw_points(device_id, since_ms, end_ms, metrics, limit + 2, descending=True)
    for point in points:
        for metric in sorted(point.metrics, key=lambda m: SENSOR_TYPES[m]):
            sensor_type = SENSOR_TYPES[metric]
            # newest first, then location and type in order: a negated timestamp
            key = (-point.ts_ms, device_id, sensor_type)
            if before is not None and key <= (-before[0], before[1], before[2]):
                continue
            yield key, (point.ts_ms, device_id, sensor_type, point.metrics[metric])


def _page(  # noqa: PLR0913, PLR0917 - the filter and the page
    store: TelemetryStore,
    principal: Principal,
    location: str | None,
    sensor_type: str | None,
    since_ms: int,
    cursor: str | None,
    limit: int,
) -> tuple[list[Row], bool]:
    before = page_start(lambda text: decode_reading("sensor-readings", text), cursor)
    metrics = _metrics(sensor_type)
    if not metrics:
        return [], False
    streams = [
        _rows_before(store, device_id, metrics, since_ms, before, limit)
        for device_id in _sensors(store, principal, location)
    ]
    merged = heapq.merge(*streams, key=lambda item: item[0])
    rows: list[Row] = []
    for _, row in merged:
        rows.append(row)
        if len(rows) > limit:
            break
    return rows[:limit], len(rows) > limit


def _listing(request: Request, rows: list[Row], more: bool) -> dict[str, Any]:
    next_url = None
    if more:
        ts_ms, location, sensor_type, _ = rows[-1]
        cursor = encode("sensor-readings", ts_ms, location, sensor_type)
        next_url = str(request.url.include_query_params(cursor=cursor))
    return {"next": next_url, "previous": None, "results": [_reading(r) for r in rows]}


@router.get("/", responses={404: {"description": "no such location"}})
def list_readings(  # noqa: PLR0913, PLR0917 - the documented query parameters
    request: Request,
    store: StoreDep,
    principal: PrincipalDep,
    location: Location = None,
    sensor_type: SensorType = None,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_PAGE,
) -> dict[str, Any]:
    """Every reading, newest first, 100 a page: follow ``next``."""
    rows, more = _page(store, principal, location, sensor_type, MIN_TIME_MS, cursor, limit)
    return _listing(request, rows, more)


@router.get("/recent/", responses={404: {"description": "no such location"}})
def recent_readings(  # noqa: PLR0913, PLR0917 - the documented query parameters
    request: Request,
    store: StoreDep,
    principal: PrincipalDep,
    minutes: Annotated[int, Query(ge=1, le=MAX_RECENT_MINUTES, description="how far back")] = 60,
    location: Location = None,
    sensor_type: SensorType = None,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_PAGE,
) -> dict[str, Any]:
    """The readings of the last ``minutes`` (default 60), newest first."""
    since_ms = now_ms() - minutes * 60_000
    rows, more = _page(store, principal, location, sensor_type, since_ms, cursor, limit)
    return _listing(request, rows, more)


@router.get("/latest/", responses={404: {"description": "no such location"}})
def latest_readings(
    store: StoreDep, principal: PrincipalDep, location: Location = None
) -> list[dict[str, Any]]:
    """The newest reading of each sensor of each location."""
    return [
        _reading((v.ts_ms, device_id, SENSOR_TYPES[v.metric], v.value))
        for device_id, values in _sensors(store, principal, location).items()
        for v in values
    ]


@router.get("/buffer/", responses={404: {"description": "no such location"}})
def buffer(
    store: StoreDep, services: ServicesDep, principal: PrincipalDep, location: Location = None
) -> dict[str, Any]:
    """The hot path: the last readings of each sensor (the window, 60 by default), oldest
    first, with the buffer's statistics."""
    sensors = []
    size = 0
    for device_id, values in _sensors(store, principal, location).items():
        metrics = ",".join(v.metric for v in values)
        window = get_window(device_id, store, services, principal, metrics)
        size = window.n
        for metric, points in window.metrics.items():
            numbers = [float(p.value) for p in points]
            sensors.append(
                {
                    "location": device_id,
                    "sensor_type": SENSOR_TYPES[metric],
                    "count": len(numbers),
                    "latest": numbers[-1] if numbers else None,
                    "average": sum(numbers) / len(numbers) if numbers else None,
                    "readings": [{"value": p.value, "timestamp": p.ts} for p in points],
                }
            )
    return {"buffer_size": size, "sensors": sensors}
