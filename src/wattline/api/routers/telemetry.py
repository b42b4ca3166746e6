from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from wattline.api.deps import AdminDep, StoreDep
from wattline.api.params import iso_ms, parse_fields, parse_interval_ms, parse_time_ms
from wattline.api.routers.devices import latest_out
from wattline.api.schemas import BucketOut, LatestOut, PointOut, StatsOut, TelemetryOut
from wattline.storage.base import TelemetryStore

router = APIRouter(prefix="/api/v1/devices", tags=["telemetry"], dependencies=[AdminDep])

DEFAULT_WINDOW_MS = 24 * 3_600_000
# A response this size stays comfortably under a few MB of JSON.
MAX_BUCKETS = 50_000
MAX_POINTS = 100_000


def _require_device(store: TelemetryStore, device_id: str) -> None:
    if store.get_device(device_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"device {device_id!r} is not registered")


def _bad_request(message: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, message)


def _time_range(start: str | None, end: str | None) -> tuple[int, int]:
    try:
        end_ms = parse_time_ms(end, "end") if end else time.time_ns() // 1_000_000 + 1
        start_ms = parse_time_ms(start, "start") if start else end_ms - DEFAULT_WINDOW_MS
    except ValueError as exc:
        raise _bad_request(str(exc)) from None
    if start_ms >= end_ms:
        raise _bad_request(f"start ({iso_ms(start_ms)}) must be before end ({iso_ms(end_ms)})")
    return start_ms, end_ms


@router.get("/{device_id}/telemetry", responses={404: {"description": "no such device"}})
def get_telemetry(  # noqa: PLR0913, PLR0917 - the documented query parameters
    device_id: str,
    store: StoreDep,
    start: Annotated[
        str | None, Query(description="ISO 8601 or epoch ms; default end - 24 h")
    ] = None,
    end: Annotated[
        str | None, Query(description="ISO 8601 or epoch ms, exclusive; default now")
    ] = None,
    interval: Annotated[
        str | None, Query(description="bucket width: 1m, 15m, 1h, 1d; omit for raw points")
    ] = None,
    fields: Annotated[
        str | None, Query(description="comma-separated metric names; default all")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_POINTS, description="raw points at most")] = 10_000,
) -> TelemetryOut:
    """Raw readings, or buckets with avg/min/max/count per metric (epoch-aligned, UTC)."""
    _require_device(store, device_id)
    start_ms, end_ms = _time_range(start, end)
    names = parse_fields(fields)
    result = TelemetryOut(
        device_id=device_id,
        start=iso_ms(start_ms),
        end=iso_ms(end_ms),
        interval=interval,
        fields=names,
        truncated=False,
    )
    if interval is None:
        points = store.raw_points(device_id, start_ms, end_ms, names, limit + 1)
        result.truncated = len(points) > limit
        result.points = [
            PointOut(ts=iso_ms(p.ts_ms), seq=p.seq, values=p.metrics) for p in points[:limit]
        ]
        return result
    try:
        interval_ms = parse_interval_ms(interval)
    except ValueError as exc:
        raise _bad_request(str(exc)) from None
    if (end_ms - start_ms) // interval_ms > MAX_BUCKETS:
        raise _bad_request(
            f"{interval} buckets over this range exceed {MAX_BUCKETS}; widen the interval "
            "or shorten the range"
        )
    buckets = store.buckets(device_id, start_ms, end_ms, interval_ms, names)
    result.buckets = [
        BucketOut(
            ts=iso_ms(b.start_ms),
            values={
                name: StatsOut(avg=s.avg, min=s.min, max=s.max, count=s.count)
                for name, s in b.metrics.items()
            },
        )
        for b in buckets
    ]
    return result


@router.get("/{device_id}/telemetry/latest", responses={404: {"description": "no such device"}})
def get_latest(device_id: str, store: StoreDep) -> LatestOut:
    """The newest value of each metric by its own timestamp, not by arrival order."""
    _require_device(store, device_id)
    values = store.latest_values([device_id]).get(device_id, [])
    return LatestOut(device_id=device_id, values=latest_out(values))
