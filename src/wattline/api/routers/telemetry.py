from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from wattline.api.cursors import decode_int, encode
from wattline.api.deps import AdminFirstRoute, PrincipalDep, StoreDep, require
from wattline.api.fleet import All, Devices, DeviceType, Tag, select_fleet
from wattline.api.metric_fields import resolve_fields
from wattline.api.paging import page_start
from wattline.api.routers.devices import latest_out
from wattline.api.schemas import (
    FleetTelemetryOut,
    LatestOut,
    PointOut,
    TelemetryOut,
)
from wattline.api.series import (
    bad_request,
    buckets_fragment,
    columns_fragment,
    json_response,
    series_request,
    source_name,
    time_range,
)
from wattline.api.tenancy import check_readable
from wattline.model.metrics import shown
from wattline.model.times import iso_ms
from wattline.security.roles import Role

router = APIRouter(
    prefix="/api/v1",
    tags=["telemetry"],
    dependencies=[require(Role.VIEWER)],
    route_class=AdminFirstRoute,
)

MAX_POINTS = 100_000
MAX_FLEET_BUCKETS = 200_000

Start = Annotated[str | None, Query(description="ISO 8601 or epoch ms; default end - 24 h")]
End = Annotated[
    str | None,
    Query(
        description="ISO 8601 or epoch ms, exclusive; default now (with interval: its bucket's end)"
    ),
]
Fields = Annotated[str | None, Query(description="comma-separated metric names; default all")]
Agg = Annotated[
    str | None,
    Query(
        description="comma-separated: avg, min, max, sum, count, first, last;"
        " default avg,min,max,count"
    ),
]
Tz = Annotated[
    str | None,
    Query(
        description="IANA time zone (Europe/London): days, weeks, months start at local midnight"
    ),
]
Layout = Annotated[
    Literal["buckets", "columns"],
    Query(
        description="buckets: an object per bucket; columns: an array per metric and aggregate"
        " (smaller, faster, as chart libraries take them)"
    ),
]
IntervalDoc = (
    "bucket width: a number and s, m, h (fixed), d, w (Monday first) or mo (calendar month)"
)


@router.get(
    "/devices/{device_id}/telemetry",
    response_model=TelemetryOut,
    responses={
        400: {"description": "a field matching none of the device's metrics"},
        404: {"description": "no such device"},
    },
)
def get_telemetry(  # noqa: PLR0913, PLR0917 - the documented query parameters
    device_id: str,
    store: StoreDep,
    principal: PrincipalDep,
    start: Start = None,
    end: End = None,
    interval: Annotated[
        str | None, Query(description=IntervalDoc + "; omit for raw points")
    ] = None,
    fields: Fields = None,
    agg: Agg = None,
    tz: Tz = None,
    limit: Annotated[int, Query(ge=1, le=MAX_POINTS, description="raw points at most")] = 10_000,
    cursor: Annotated[
        str | None, Query(description="raw points: next_cursor of the previous page, unchanged")
    ] = None,
    order: Annotated[
        Literal["asc", "desc"], Query(description="raw points: oldest first, or newest first")
    ] = "asc",
    layout: Layout = "buckets",
) -> TelemetryOut | Response:
    """Raw readings, or buckets per metric from the coarsest rollup tier that answers exactly.

    Raw readings come a page of ``limit`` at a time: pass ``next_cursor`` back as ``cursor``
    with the same range, fields and order.
    """
    check_readable(store, principal, device_id)
    names = resolve_fields(store, [device_id], fields, f"device {device_id!r}")
    if interval is None:
        if agg is not None or tz is not None or layout != "buckets":
            raise bad_request("agg, tz and layout apply to buckets: give an interval too")
        kind: Literal["raw-asc", "raw-desc"] = "raw-desc" if order == "desc" else "raw-asc"
        after_ms = page_start(lambda text: decode_int(kind, text, "timestamp"), cursor)
        start_ms, end_ms = time_range(start, end)
        points = store.raw_points(
            device_id,
            start_ms,
            end_ms,
            names,
            limit + 1,
            after_ms=after_ms,
            descending=order == "desc",
        )
        page = points[:limit]
        more = len(points) > limit
        return TelemetryOut(
            device_id=device_id,
            start=iso_ms(start_ms),
            end=iso_ms(end_ms),
            interval=None,
            fields=names,
            truncated=more,
            next_cursor=encode(kind, page[-1].ts_ms) if more else None,
            points=[
                PointOut(
                    ts=iso_ms(p.ts_ms),
                    seq=p.seq,
                    values={metric: shown(metric, v) for metric, v in p.metrics.items()},
                )
                for p in page
            ],
        )
    if cursor is not None or order != "asc":
        raise bad_request("cursor and order apply to raw points: leave out the interval")
    request = series_request(start, end, interval, tz, agg)
    plan = request.plan
    series = store.series_columns([device_id], plan, names, with_ends=request.with_ends)
    head = TelemetryOut(
        device_id=device_id,
        start=iso_ms(plan.start_ms),
        end=iso_ms(plan.end_ms),
        interval=interval,
        fields=names,
        buckets=[],
        source=source_name(plan),
        tz=tz,
        agg=list(request.aggregates),
    ).model_dump()
    # One of the two is null, as the model writes it.
    if layout == "columns":
        head["buckets"] = None
        head["columns"] = columns_fragment(series.get(device_id), request.aggregates)
    else:
        head["buckets"] = buckets_fragment(series.get(device_id), request.aggregates)
    return json_response(head)


@router.get(
    "/telemetry",
    response_model=FleetTelemetryOut,
    responses={
        400: {"description": "a field matching none of the devices' metrics"},
        404: {"description": "a listed device is not registered"},
    },
)
def get_fleet_telemetry(  # noqa: PLR0913, PLR0917 - the documented query parameters
    store: StoreDep,
    principal: PrincipalDep,
    interval: Annotated[str, Query(description=IntervalDoc)],
    devices: Devices = None,
    device_type: DeviceType = None,
    tag: Tag = None,
    every: All = False,
    start: Start = None,
    end: End = None,
    fields: Fields = None,
    agg: Agg = None,
    tz: Tz = None,
    layout: Layout = "buckets",
) -> Response:
    """The same buckets for many devices at once, chosen by ids, type, tag or all."""
    device_ids = select_fleet(store, principal, devices, device_type, tag, every=every)
    request = series_request(start, end, interval, tz, agg)
    plan = request.plan
    if len(plan.starts) * len(device_ids) > MAX_FLEET_BUCKETS:
        raise bad_request(
            f"{len(device_ids)} devices x {len(plan.starts)} buckets exceed {MAX_FLEET_BUCKETS};"
            " widen the interval, shorten the range or ask for fewer devices"
        )
    names = resolve_fields(store, device_ids, fields, "these devices")
    series = store.series_columns(device_ids, plan, names, with_ends=request.with_ends)
    head = FleetTelemetryOut(
        start=iso_ms(plan.start_ms),
        end=iso_ms(plan.end_ms),
        interval=interval,
        tz=tz,
        agg=list(request.aggregates),
        fields=names,
        source=source_name(plan),
        devices=[],
    ).model_dump()
    columns = layout == "columns"
    head["devices"] = [
        {
            "device_id": d,
            "buckets": None if columns else buckets_fragment(series.get(d), request.aggregates),
            "columns": columns_fragment(series.get(d), request.aggregates) if columns else None,
        }
        for d in device_ids
    ]
    return json_response(head)


@router.get(
    "/devices/{device_id}/telemetry/latest", responses={404: {"description": "no such device"}}
)
def get_latest(device_id: str, store: StoreDep, principal: PrincipalDep) -> LatestOut:
    """The newest value of each metric by its own timestamp, not by arrival order."""
    check_readable(store, principal, device_id)
    values = store.latest_values([device_id]).get(device_id, [])
    return LatestOut(device_id=device_id, values=latest_out(values))
