"""The last N readings per metric of one device, served from memory."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from wattline.api.deps import AdminFirstRoute, PrincipalDep, ServicesDep, StoreDep, require
from wattline.api.metric_fields import resolve_fields
from wattline.api.tenancy import check_readable
from wattline.live.window import DEFAULT_WINDOW_SIZE, RecentReadings
from wattline.model.metrics import shown
from wattline.model.times import iso_ms
from wattline.security.roles import Role
from wattline.storage.ports import TelemetryStore
from wattline.storage.series import recent_points

router = APIRouter(
    prefix="/api/v1/devices",
    tags=["telemetry"],
    dependencies=[require(Role.VIEWER)],
    route_class=AdminFirstRoute,
)

# Without an in-memory window (an API process with no collector) each request
# reads storage; n is bounded the same way.
MAX_N = 10_000


class WindowPointOut(BaseModel):
    ts: str
    value: float | bool = Field(description="a switch (relay_state) as true/false")


class WindowOut(BaseModel):
    device_id: str
    n: int
    source: str = Field(description="memory, or storage when this process has no window")
    metrics: dict[str, list[WindowPointOut]]


def _from_storage(
    store: TelemetryStore, device_id: str, metrics: list[str], n: int
) -> dict[str, list[tuple[int, float]]]:
    latest = {v.metric: v.ts_ms for v in store.latest_values([device_id]).get(device_id, [])}
    return {
        metric: [
            (p.ts_ms, p.metrics[metric])
            for p in recent_points(store, device_id, metric, n, latest[metric])
        ]
        for metric in metrics
        if metric in latest
    }


def _refill(window: RecentReadings, store: TelemetryStore, device_id: str) -> None:
    """After a restart the window is empty: fill this device once, from storage."""
    latest = store.latest_values([device_id]).get(device_id, [])
    loaded = _from_storage(store, device_id, [v.metric for v in latest], window.size)
    for metric, points in loaded.items():
        window.merge(device_id, metric, points)
    window.mark_loaded(device_id)


@router.get(
    "/{device_id}/telemetry/window",
    responses={
        400: {"description": "a metric matching none of the device's"},
        404: {"description": "no such device"},
    },
)
def get_window(  # noqa: PLR0913, PLR0917 - the documented query parameters
    device_id: str,
    store: StoreDep,
    services: ServicesDep,
    principal: PrincipalDep,
    metric: Annotated[
        str | None, Query(description="comma-separated metric names; default all")
    ] = None,
    n: Annotated[
        int | None,
        Query(ge=1, le=MAX_N, description="readings per metric; default the window size (60)"),
    ] = None,
) -> WindowOut:
    """The newest n readings of each metric, oldest first (the dashboard's hot path)."""
    window = services.window
    if n is None:
        n = window.size if window is not None else DEFAULT_WINDOW_SIZE
    if window is not None and n > window.size:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"n={n} exceeds the window of {window.size} readings (WATTLINE_WINDOW_SIZE)",
        )
    # Every request: the window holds every tenant's devices, so which ones the
    # caller may read is the store's tenant-scoped answer (one primary-key look-up).
    check_readable(store, principal, device_id)
    names = resolve_fields(store, [device_id], metric, f"device {device_id!r}")
    if window is None:
        all_metrics = [v.metric for v in store.latest_values([device_id]).get(device_id, [])]
        series = _from_storage(store, device_id, names or all_metrics, n)
        source = "storage"
    else:
        if not window.is_loaded(device_id):
            _refill(window, store, device_id)
        series = window.get(device_id, names, n)
        source = "memory"
    return WindowOut(
        device_id=device_id,
        n=n,
        source=source,
        metrics={
            name: [WindowPointOut(ts=iso_ms(ts), value=shown(name, value)) for ts, value in points]
            for name, points in series.items()
        },
    )
