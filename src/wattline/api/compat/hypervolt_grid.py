"""The HyperVolt seed's grid data (seeds/004): ``/api/grid-data/`` and its ``latest``,
``carbon_intensity`` and ``weather`` actions, over ``/api/v1/grid/carbon`` and
``/api/v1/grid/weather``'s look-ups.

The seed's ``GridData`` row is ``{data_type, value, unit, zone, metadata,
timestamp, created_at}``. Here a row is one hour of one series: carbon
intensity of the tenant's zone (``carbon_intensity``, gCO2eq/kWh), or one
weather series at the tenant's location (``weather``, its series named in
``metadata.series``: irradiance, temperature, cloud cover). ``metadata`` says
where the value came from (``cached`` from a provider, or ``fallback``) and
``created_at`` is when it was fetched. Values come from providers, so the
seed's create/update/delete are not offered (docs/compatibility.md).
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status

from wattline.api.compat.drf_pages import DEFAULT_PAGE_SIZE, PageParam, PageSizeParam, drf_body
from wattline.api.deps import AdminFirstRoute, PrincipalDep, require
from wattline.api.routers.grid import Zone
from wattline.api.routers.tariffs import EnergyDataDep
from wattline.api.services import EnergyData
from wattline.grid.providers import CARBON, CLOUD_COVER, GHI, HOUR_MS, TEMPERATURE
from wattline.grid.sources import CarbonLookup, WeatherLookup
from wattline.model.times import iso_ms
from wattline.security.roles import Role
from wattline.storage.energy_data import GridValue

PREFIX = "/api/grid-data"
CARBON_INTENSITY = "carbon_intensity"
WEATHER = "weather"
UNITS = {
    CARBON: "gCO2eq/kWh",
    GHI: "W/m2",
    TEMPERATURE: "celsius",
    CLOUD_COVER: "percent",
}
MAX_HOURS = 31 * 24  # the primary API's longest range

router = APIRouter(
    prefix=PREFIX,
    tags=["compat: HyperVolt"],
    dependencies=[require(Role.VIEWER)],
    route_class=AdminFirstRoute,
)

DataType = Literal["carbon_intensity", "weather"]
Hours = Annotated[int, Query(ge=1, le=MAX_HOURS, description="how many hours back")]


def _row(data_type: str, zone: str | None, value: GridValue) -> dict[str, Any]:
    return {
        "data_type": data_type,
        "value": value.value,
        "unit": UNITS.get(value.series, ""),
        "zone": zone,
        "metadata": {
            "series": value.series,
            "source": value.source.value,
            "provider": value.provider,
        },
        "timestamp": iso_ms(value.ts_ms),
        "created_at": iso_ms(value.fetched_ms),
    }


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _carbon(data: EnergyData, tenant_id: str, zone: str | None, hours: int) -> list[dict[str, Any]]:
    chosen = zone or data.settings(tenant_id).carbon_zone
    if not chosen:
        return []
    now_ms = _now_ms()
    values = CarbonLookup(data).hourly(
        tenant_id, chosen, now_ms - hours * HOUR_MS, now_ms + 1, now_ms
    )
    return [_row(CARBON_INTENSITY, chosen, v) for v in values]


def _weather(data: EnergyData, tenant_id: str, hours: int) -> list[dict[str, Any]]:
    settings = data.settings(tenant_id)
    if settings.latitude_deg is None or settings.longitude_deg is None:
        return []
    now_ms = _now_ms()
    series = WeatherLookup(data).hourly(
        tenant_id,
        (settings.latitude_deg, settings.longitude_deg),
        now_ms - hours * HOUR_MS,
        now_ms + 1,
        now_ms,
    )
    return [_row(WEATHER, None, v) for values in series.values() for v in values]


def _newest_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # ISO timestamps of one format sort as time; ties in series order
    rows.sort(key=lambda r: r["metadata"]["series"])
    rows.sort(key=lambda r: r["timestamp"], reverse=True)
    return rows


def _rows(
    data: EnergyData, tenant_id: str, data_type: str | None, zone: str | None, hours: int
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if data_type in {None, CARBON_INTENSITY}:
        rows += _carbon(data, tenant_id, zone, hours)
    if data_type in {None, WEATHER} and zone is None:
        rows += _weather(data, tenant_id, hours)
    return _newest_first(rows)


@router.get("/", responses={404: {"description": "a page past the last"}})
def list_grid_data(  # noqa: PLR0913, PLR0917 - the documented query parameters
    request: Request,
    data: EnergyDataDep,
    principal: PrincipalDep,
    data_type: DataType | None = None,
    zone: Zone = None,
    hours: Hours = 24,
    page: PageParam = 1,
    page_size: PageSizeParam = DEFAULT_PAGE_SIZE,
) -> dict[str, Any]:
    """Hourly grid values of the last ``hours`` (default 24), newest first, 100 a page.
    Carbon needs the tenant's ``carbon_zone`` (or ``zone=``), weather its location
    (``PUT /api/v1/energy/settings``); a series without them is left out."""
    rows = _rows(data, principal.tenant_id, data_type, zone, hours)
    return drf_body(request, rows, page, page_size)


@router.get("/latest/")
def latest_grid_data(
    data: EnergyDataDep, principal: PrincipalDep, data_type: DataType | None = None
) -> list[dict[str, Any]]:
    """The current hour's value of each series: carbon intensity and each weather series."""
    latest: dict[str, dict[str, Any]] = {}
    for row in _rows(data, principal.tenant_id, data_type, None, 1):
        latest.setdefault(row["metadata"]["series"], row)
    return list(latest.values())


@router.get("/carbon_intensity/", responses={422: {"description": "no zone is known"}})
def carbon_intensity(
    data: EnergyDataDep, principal: PrincipalDep, hours: Hours = 24, zone: Zone = None
) -> list[dict[str, Any]]:
    """Hourly carbon intensity of the last ``hours`` (default 24), newest first."""
    rows = _carbon(data, principal.tenant_id, zone, hours)
    if not rows:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "zone: give zone=, or set a carbon_zone the fallback table knows "
            "in PUT /api/v1/energy/settings",
        )
    return _newest_first(rows)


@router.get("/weather/", responses={422: {"description": "no location is set"}})
def weather(
    data: EnergyDataDep, principal: PrincipalDep, hours: Hours = 24
) -> list[dict[str, Any]]:
    """Hourly weather of the last ``hours`` (default 24), newest first."""
    rows = _weather(data, principal.tenant_id, hours)
    if not rows:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "latitude_deg: set the tenant's location in PUT /api/v1/energy/settings",
        )
    return _newest_first(rows)
