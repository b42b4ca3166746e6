"""The HyperVolt seed's buffer view: the last readings per metric with their statistics."""

from __future__ import annotations

import statistics
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from wattline.api.deps import AdminFirstRoute, PrincipalDep, ServicesDep, StoreDep, require
from wattline.api.params import parse_time_ms
from wattline.api.routers.window import WindowPointOut, get_window
from wattline.live.window import DEFAULT_WINDOW_SIZE
from wattline.security.roles import Role

router = APIRouter(
    prefix="/api/v1/devices",
    tags=["telemetry"],
    dependencies=[require(Role.VIEWER)],
    route_class=AdminFirstRoute,
)


class BufferStatsOut(BaseModel):
    count: int = Field(description="readings held")
    capacity: int = Field(description="readings the buffer keeps per metric")
    fill_pct: float
    oldest: str | None
    newest: str | None
    span_s: float = Field(description="time from the oldest to the newest reading")
    min: float | None
    max: float | None
    mean: float | None
    stdev: float | None
    last: float | None


class BufferOut(BaseModel):
    device_id: str
    source: str = Field(description="memory, or storage when this process has no window")
    stats: dict[str, BufferStatsOut]
    readings: dict[str, list[WindowPointOut]] | None = Field(description="with readings=true")


def _stats(points: list[WindowPointOut], capacity: int, ts_ms: list[int]) -> BufferStatsOut:
    values = [p.value for p in points]
    return BufferStatsOut(
        count=len(values),
        capacity=capacity,
        fill_pct=round(100 * len(values) / capacity, 1),
        oldest=points[0].ts if points else None,
        newest=points[-1].ts if points else None,
        span_s=(ts_ms[-1] - ts_ms[0]) / 1000 if ts_ms else 0.0,
        min=min(values, default=None),
        max=max(values, default=None),
        mean=statistics.fmean(values) if values else None,
        stdev=statistics.stdev(values) if len(values) > 1 else None,
        last=values[-1] if values else None,
    )


@router.get("/{device_id}/telemetry/buffer", responses={404: {"description": "no such device"}})
def get_buffer(  # noqa: PLR0913, PLR0917 - the documented query parameters
    device_id: str,
    store: StoreDep,
    services: ServicesDep,
    principal: PrincipalDep,
    metric: Annotated[
        str | None, Query(description="comma-separated metric names; default all")
    ] = None,
    readings: Annotated[bool, Query(description="include the readings themselves")] = False,
) -> BufferOut:
    """Per metric: how full the last-readings buffer is and the readings' statistics."""
    capacity = services.window.size if services.window is not None else DEFAULT_WINDOW_SIZE
    window = get_window(device_id, store, services, principal, metric, capacity)
    stats = {
        name: _stats(
            points,
            capacity,
            [parse_time_ms(p.ts, "ts") for p in points[:: max(1, len(points) - 1)]],
        )
        for name, points in window.metrics.items()
    }
    return BufferOut(
        device_id=device_id,
        source=window.source,
        stats=stats,
        readings=window.metrics if readings else None,
    )
