"""A PV inverter's array, and its yield per day against pvlib's expectation.

Each day: the energy the inverter measured (the ``/energy`` computation), the
energy pvlib expects of the array (clear sky, or the stored weather), the
plane-of-array irradiation, the performance ratio (IEC 61724) and actual /
expected; runs of days below expected by the configured margin are findings.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from wattline.analytics.solar import DayYield, PvSystem, performance_ratio, underperformance
from wattline.api.deps import AdminFirstRoute, PrincipalDep, ServicesDep, StoreDep, require
from wattline.api.params import parse_time_ms
from wattline.api.routers.cost import Segments
from wattline.api.routers.energy import fleet_energy_wh
from wattline.api.routers.tariffs import energy_data_of
from wattline.api.services import EnergyData
from wattline.api.tenancy import check_readable, owned_device
from wattline.grid.providers import GHI, HOUR_MS, HourValue
from wattline.grid.solar import expected_day
from wattline.grid.sources import WeatherLookup
from wattline.model.calendar import Interval, Unit, bucket_edges, parse_tz
from wattline.model.times import DAY_MS, iso_ms
from wattline.security.roles import Role
from wattline.storage.energy_data import ValueSource

router = APIRouter(tags=["solar"], route_class=AdminFirstRoute)

MAX_DAYS = 31  # pvlib evaluates 288 steps a day: a month answers in about a second
DAY = Interval(Unit.DAY, 1)


class PvSystemIn(BaseModel):
    latitude_deg: float = Field(ge=-90, le=90, allow_inf_nan=False)
    longitude_deg: float = Field(ge=-180, le=180, allow_inf_nan=False)
    tilt_deg: float = Field(ge=0, le=90, allow_inf_nan=False, description="0: horizontal")
    azimuth_deg: float = Field(
        ge=0, le=360, allow_inf_nan=False, description="where the modules face: 180 south"
    )
    kwp: float = Field(gt=0, le=1_000_000, allow_inf_nan=False, description="DC rating at STC")
    losses_pct: float = Field(default=14.0, ge=0, lt=100, allow_inf_nan=False)
    inverter_efficiency: float = Field(default=0.96, gt=0, le=1, allow_inf_nan=False)
    gamma_pdc_per_c: float = Field(default=-0.0037, ge=-0.02, le=0, allow_inf_nan=False)
    margin: float = Field(
        default=0.2, gt=0, lt=1, description="underperforming below expected x (1 - margin)"
    )
    min_days: int = Field(default=3, ge=1, le=MAX_DAYS, description="for this many days in a row")


class SolarDayOut(BaseModel):
    start: str
    end: str
    actual_kwh: float
    expected_kwh: float
    poa_kwh_per_m2: float = Field(description="irradiation on the modules' plane")
    performance_ratio: float | None
    actual_over_expected: float | None
    irradiance: str = Field(description="clear_sky, or weather (stored provider GHI)")


class FindingOut(BaseModel):
    kind: str = "underperformance"
    first_day: str
    last_day: str
    mean_ratio: float
    reason: str


class SolarOut(BaseModel):
    device_id: str
    tz: str
    system: PvSystemIn
    days: list[SolarDayOut]
    findings: list[FindingOut]


class PvSystemList(BaseModel):
    device_ids: list[str] = Field(description="the tenant's devices with a PV system, in id order")


@router.get("/api/v1/pv-systems", dependencies=[require(Role.VIEWER)])
def list_pv_systems(services: ServicesDep, principal: PrincipalDep) -> PvSystemList:
    """Which devices have a PV system (so a page asks for /solar only where there is one)."""
    return PvSystemList(device_ids=energy_data_of(services).pv_system_devices(principal.tenant_id))


@router.put("/api/v1/devices/{device_id}/pv-system", dependencies=[require(Role.ADMIN)])
def put_pv_system(
    device_id: str,
    body: PvSystemIn,
    store: StoreDep,
    services: ServicesDep,
    principal: PrincipalDep,
) -> PvSystemIn:
    """Describe the inverter's array: location, tilt, azimuth, kWp, losses."""
    owned_device(store, principal, device_id)
    data = energy_data_of(services)
    data.put_pv_system(principal.tenant_id, device_id, body.model_dump_json())
    return body


def _system(data: EnergyData, tenant_id: str, device_id: str) -> PvSystemIn:
    found = data.pv_system(tenant_id, device_id)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"device {device_id!r} has no PV system; PUT /api/v1/devices/{device_id}/pv-system",
        )
    return PvSystemIn.model_validate(json.loads(found))


@router.get("/api/v1/devices/{device_id}/pv-system", dependencies=[require(Role.VIEWER)])
def get_pv_system(
    device_id: str, store: StoreDep, services: ServicesDep, principal: PrincipalDep
) -> PvSystemIn:
    owned_device(store, principal, device_id)
    return _system(energy_data_of(services), principal.tenant_id, device_id)


def _days(start: str | None, end: str | None, tz: str) -> tuple[list[int], ZoneInfo]:
    try:
        zone = parse_tz(tz) or ZoneInfo("UTC")
        end_ms = parse_time_ms(end, "end") if end else time.time_ns() // 1_000_000
        start_ms = parse_time_ms(start, "start") if start else end_ms - 7 * DAY_MS
        if start_ms >= end_ms:
            raise ValueError("start must be before end")  # noqa: TRY301 - one 422 for all
        return bucket_edges(start_ms, end_ms, DAY, zone, MAX_DAYS), zone
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


def _measured_ghi(
    data: EnergyData, tenant_id: str, system: PvSystem, day_start: int, day_end: int
) -> list[HourValue] | None:
    """The day's stored provider GHI when every hour of it is there; else None."""
    stored = WeatherLookup(data).hourly(
        tenant_id, (system.latitude_deg, system.longitude_deg), day_start, day_end, day_start
    )[GHI]
    measured = [HourValue(v.ts_ms, v.value) for v in stored if v.source is ValueSource.CACHED]
    hours = len(range(day_start - day_start % HOUR_MS, day_end, HOUR_MS))
    return measured if len(measured) >= hours else None


@router.get(
    "/api/v1/devices/{device_id}/solar",
    dependencies=[require(Role.VIEWER)],
    responses={404: {"description": "no device, or no PV system for it"}},
)
def get_solar(  # noqa: PLR0913, PLR0917 - the documented query parameters
    device_id: str,
    store: StoreDep,
    services: ServicesDep,
    principal: PrincipalDep,
    start: Annotated[
        str | None, Query(description="ISO 8601 or epoch ms; default end - 7 days")
    ] = None,
    end: Annotated[
        str | None, Query(description="ISO 8601 or epoch ms, exclusive; default now")
    ] = None,
    tz: Annotated[str, Query(description="IANA zone of the days")] = "UTC",
    irradiance: Annotated[
        Literal["clear_sky", "weather"],
        Query(description="weather: the stored provider GHI where a whole day of it is stored"),
    ] = "clear_sky",
) -> SolarOut:
    """Measured against expected energy per local day, performance ratio and findings."""
    check_readable(store, principal, device_id)
    data = energy_data_of(services)
    config = _system(data, principal.tenant_id, device_id)
    edges, zone = _days(start, end, tz)
    system = PvSystem(**config.model_dump(exclude={"margin", "min_days"}))
    found = fleet_energy_wh(store, [device_id], Segments(edges))[device_id]
    actual_wh = found[2] if found is not None else [0.0] * (len(edges) - 1)
    days: list[SolarDayOut] = []
    yields: list[DayYield] = []
    for day_start, day_end, wh in zip(edges, edges[1:], actual_wh, strict=False):
        local_day = datetime.fromtimestamp(day_start / 1000, zone).date()
        ghi = (
            _measured_ghi(data, principal.tenant_id, system, day_start, day_end)
            if irradiance == "weather"
            else None
        )
        expected = expected_day(system, local_day, zone, ghi)
        actual_kwh = wh / 1000
        yields.append(DayYield(local_day, actual_kwh, expected.expected_kwh))
        days.append(
            SolarDayOut(
                start=iso_ms(day_start),
                end=iso_ms(day_end),
                actual_kwh=actual_kwh,
                expected_kwh=expected.expected_kwh,
                poa_kwh_per_m2=expected.poa_kwh_per_m2,
                performance_ratio=performance_ratio(
                    actual_kwh, system.kwp, expected.poa_kwh_per_m2
                ),
                actual_over_expected=(
                    actual_kwh / expected.expected_kwh if expected.expected_kwh > 0 else None
                ),
                irradiance=expected.irradiance,
            )
        )
    findings = [
        FindingOut(
            first_day=f.first_day.isoformat(),
            last_day=f.last_day.isoformat(),
            mean_ratio=f.mean_ratio,
            reason=f.reason,
        )
        for f in underperformance(yields, config.margin, config.min_days)
    ]
    return SolarOut(device_id=device_id, tz=zone.key, system=config, days=days, findings=findings)
