"""Grid carbon intensity and weather per hour, and a device's emissions per day.

Values are the fetcher's (``grid/fetcher.py``), marked ``cached`` with the
provider and when it was fetched; hours it has not stored come from the
offline fallback (the bundled carbon table, pvlib's clear sky), marked ``fallback``.
"""

from __future__ import annotations

import itertools
import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from wattline.analytics.carbon import emissions_g
from wattline.api.deps import AdminFirstRoute, PrincipalDep, ServicesDep, StoreDep, require
from wattline.api.params import parse_time_ms
from wattline.api.routers.cost import Segments
from wattline.api.routers.energy import fleet_energy_wh
from wattline.api.routers.tariffs import EnergyDataDep, energy_data_of
from wattline.api.tenancy import check_readable
from wattline.grid.providers import HOUR_MS
from wattline.grid.sources import CarbonLookup, WeatherLookup
from wattline.model.calendar import Interval, Unit, bucket_edges, parse_tz
from wattline.model.times import DAY_MS, iso_ms
from wattline.security.roles import Role
from wattline.storage.energy_data import EnergySettings, GridValue

router = APIRouter(tags=["grid"], dependencies=[require(Role.VIEWER)], route_class=AdminFirstRoute)

MAX_RANGE_MS = 31 * DAY_MS  # a month of hours: 744 values per series
DAY = Interval(Unit.DAY, 1)
HOUR = Interval(Unit.FIXED, HOUR_MS)

Start = Annotated[str | None, Query(description="ISO 8601 or epoch ms; default end - 1 day")]
End = Annotated[str | None, Query(description="ISO 8601 or epoch ms, exclusive; default now")]


class GridValueOut(BaseModel):
    start: str = Field(description="the hour's start (UTC)")
    value: float
    source: str = Field(description="cached (fetched from the provider) or fallback")
    provider: str
    fetched_at: str


class CarbonOut(BaseModel):
    zone: str
    unit: str = "gCO2eq/kWh"
    values: list[GridValueOut]


class WeatherOut(BaseModel):
    latitude_deg: float
    longitude_deg: float
    series: dict[str, list[GridValueOut]] = Field(
        description="ghi_w_m2 (hour mean), temperature_c, cloud_cover_pct"
    )


class EmissionsDayOut(BaseModel):
    start: str
    end: str
    kwh: float
    grams_co2e: float
    hours_by_source: dict[str, int] = Field(description="how many hours used each source")


class EmissionsOut(BaseModel):
    device_id: str
    zone: str
    tz: str
    kwh: float
    grams_co2e: float
    days: list[EmissionsDayOut]


def _range(start: str | None, end: str | None) -> tuple[int, int]:
    try:
        end_ms = parse_time_ms(end, "end") if end else time.time_ns() // 1_000_000
        start_ms = parse_time_ms(start, "start") if start else end_ms - DAY_MS
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    if start_ms >= end_ms:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "start must be before end")
    if end_ms - start_ms > MAX_RANGE_MS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "at most 31 days per request; shorten the range"
        )
    return start_ms, end_ms


def _out(value: GridValue) -> GridValueOut:
    return GridValueOut(
        start=iso_ms(value.ts_ms),
        value=value.value,
        source=value.source.value,
        provider=value.provider,
        fetched_at=iso_ms(value.fetched_ms),
    )


def _zone(settings: EnergySettings, zone: str | None) -> str:
    chosen = zone or settings.carbon_zone
    if not chosen:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "zone: give zone=, or set carbon_zone in PUT /api/v1/energy/settings",
        )
    return chosen


Zone = Annotated[
    str | None,
    Query(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,8})?$", description="default: the tenant's carbon_zone"),
]


@router.get("/api/v1/grid/carbon")
def get_carbon(
    data: EnergyDataDep,
    principal: PrincipalDep,
    start: Start = None,
    end: End = None,
    zone: Zone = None,
) -> CarbonOut:
    """Hourly grid carbon intensity of the zone, each value with its source."""
    start_ms, end_ms = _range(start, end)
    chosen = _zone(data.settings(principal.tenant_id), zone)
    values = CarbonLookup(data).hourly(
        principal.tenant_id, chosen, start_ms, end_ms, time.time_ns() // 1_000_000
    )
    if not values:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"zone: no provider value is stored for {chosen!r} and the fallback table lacks it",
        )
    return CarbonOut(zone=chosen, values=[_out(v) for v in values])


@router.get("/api/v1/grid/weather")
def get_weather(
    data: EnergyDataDep, principal: PrincipalDep, start: Start = None, end: End = None
) -> WeatherOut:
    """Hourly weather at the tenant's location; irradiance falls back to pvlib's clear sky."""
    start_ms, end_ms = _range(start, end)
    settings = data.settings(principal.tenant_id)
    if settings.latitude_deg is None or settings.longitude_deg is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "latitude_deg: set the tenant's location in PUT /api/v1/energy/settings",
        )
    site = (settings.latitude_deg, settings.longitude_deg)
    series = WeatherLookup(data).hourly(
        principal.tenant_id, site, start_ms, end_ms, time.time_ns() // 1_000_000
    )
    return WeatherOut(
        latitude_deg=site[0],
        longitude_deg=site[1],
        series={name: [_out(v) for v in values] for name, values in series.items()},
    )


@router.get("/api/v1/devices/{device_id}/emissions", responses={404: {"description": "no device"}})
def get_emissions(  # noqa: PLR0913, PLR0917 - the documented query parameters
    device_id: str,
    store: StoreDep,
    services: ServicesDep,
    principal: PrincipalDep,
    start: Start = None,
    end: End = None,
    tz: Annotated[str, Query(description="IANA zone of the days")] = "UTC",
    zone: Zone = None,
) -> EmissionsOut:
    """kWh and grams of CO2eq per local day: each hour's energy x that hour's intensity."""
    check_readable(store, principal, device_id)
    data = energy_data_of(services)
    start_ms, end_ms = _range(start, end)
    try:
        local = parse_tz(tz)
        days = bucket_edges(start_ms, end_ms, DAY, local, 32)
        hours = bucket_edges(days[0], days[-1], HOUR, local, 33 * 25)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    chosen = _zone(data.settings(principal.tenant_id), zone)
    found = fleet_energy_wh(store, [device_id], Segments(hours))[device_id]
    energy_wh = found[2] if found is not None else [0.0] * (len(hours) - 1)
    by_hour = {
        v.ts_ms: v
        for v in CarbonLookup(data).hourly(
            principal.tenant_id, chosen, hours[0], hours[-1], time.time_ns() // 1_000_000
        )
    }
    if not by_hour:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"zone: no intensity is known for {chosen!r}",
        )
    out: list[EmissionsDayOut] = []
    for day_start, day_end in itertools.pairwise(days):
        index = [i for i, h in enumerate(hours[:-1]) if day_start <= h < day_end]
        intensities = [by_hour[hours[i] - hours[i] % HOUR_MS] for i in index]
        sources: dict[str, int] = {}
        for value in intensities:
            sources[value.source.value] = sources.get(value.source.value, 0) + 1
        wh = [energy_wh[i] for i in index]
        out.append(
            EmissionsDayOut(
                start=iso_ms(day_start),
                end=iso_ms(day_end),
                kwh=sum(wh) / 1000,
                grams_co2e=emissions_g(wh, [v.value for v in intensities]),
                hours_by_source=sources,
            )
        )
    return EmissionsOut(
        device_id=device_id,
        zone=chosen,
        tz=tz,
        kwh=sum(d.kwh for d in out),
        grams_co2e=sum(d.grams_co2e for d in out),
        days=out,
    )
