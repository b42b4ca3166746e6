"""Hourly kWh forecasts with a p10-p90 interval, for a device or a tag's devices."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from wattline.api.deps import AdminFirstRoute, PrincipalDep, ServicesDep, StoreDep, require
from wattline.api.fleet import select_fleet
from wattline.api.intelligence_deps import ForecasterDep, need_forecaster
from wattline.api.tenancy import check_readable
from wattline.intelligence.forecast import MAX_HORIZON_H, SEASONAL_NAIVE, ForecastHour
from wattline.intelligence.forecaster import DeviceForecast, NoPowerSeriesError
from wattline.model.calendar import parse_tz
from wattline.model.times import iso_ms
from wattline.security.roles import Role

router = APIRouter(
    tags=["forecasts"], dependencies=[require(Role.VIEWER)], route_class=AdminFirstRoute
)

Hours = Annotated[
    int, Query(ge=1, le=MAX_HORIZON_H, description="hours ahead from the current hour")
]
Tz = Annotated[str, Query(max_length=64, description="IANA time zone of the calendar features")]


class ForecastHourOut(BaseModel):
    start: str
    kwh: float = Field(description="the median forecast (p50)")
    p10_kwh: float
    p90_kwh: float


class ModelOut(BaseModel):
    version: str = Field(examples=["boosted-blend-2", "seasonal-naive-1"])
    seasonal_naive: bool = Field(description="the baseline: same hour last week")
    short_history: bool = Field(description="too little history for the boosted model")
    trained_from: str
    trained_to: str
    backtest_mae_kwh: float | None = Field(description="on the last week before trained_to")
    backtest_naive_mae_kwh: float | None
    backtest_mase: float | None


class DeviceForecastOut(BaseModel):
    device_id: str
    metric: str
    tz: str
    model: ModelOut
    hours: list[ForecastHourOut]


class TagForecastOut(BaseModel):
    tag: str
    tz: str
    hours: list[ForecastHourOut]
    devices: list[DeviceForecastOut]
    skipped: dict[str, str] = Field(description="devices left out, and why")


def _tz(text: str) -> ZoneInfo:
    try:
        return parse_tz(text) or ZoneInfo("UTC")
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


def _hours(points: list[ForecastHour]) -> list[ForecastHourOut]:
    return [
        ForecastHourOut(
            start=iso_ms(p.start_ms),
            kwh=round(p.kwh, 6),
            p10_kwh=round(p.p10_kwh, 6),
            p90_kwh=round(p.p90_kwh, 6),
        )
        for p in points
    ]


def _device_out(found: DeviceForecast, tz: ZoneInfo) -> DeviceForecastOut:
    model, backtest = found.model, found.model.backtest
    return DeviceForecastOut(
        device_id=found.device_id,
        metric=found.metric,
        tz=tz.key,
        model=ModelOut(
            version=model.version,
            seasonal_naive=model.version == SEASONAL_NAIVE,
            short_history=model.short_history,
            trained_from=iso_ms(model.trained_from_ms),
            trained_to=iso_ms(model.trained_to_ms),
            backtest_mae_kwh=None if backtest is None else round(backtest.mae_kwh, 6),
            backtest_naive_mae_kwh=None if backtest is None else round(backtest.naive_mae_kwh, 6),
            backtest_mase=None if backtest is None else round(backtest.mase, 4),
        ),
        hours=_hours(found.hours),
    )


@router.get(
    "/api/v1/devices/{device_id}/forecast",
    responses={
        501: {"description": "no intelligence services in this process"},
        404: {"description": "no such device"},
        422: {"description": "no power, or too little history"},
    },
)
def device_forecast(  # noqa: PLR0913, PLR0917 - the documented query parameters
    device_id: str,
    principal: PrincipalDep,
    store: StoreDep,
    services: ServicesDep,
    hours: Hours = 24,
    tz: Tz = "UTC",
) -> DeviceForecastOut:
    """The next ``hours`` of kWh, hour by hour, with the model that made them."""
    zone = _tz(tz)
    check_readable(store, principal, device_id)
    forecaster = need_forecaster(services)
    try:
        return _device_out(forecaster.forecast(device_id, hours, zone), zone)
    except ValueError as exc:  # no power series, or too little history
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


@router.get(
    "/api/v1/forecast",
    responses={
        501: {"description": "no intelligence services in this process"},
        422: {"description": "no tag, or none forecastable"},
    },
)
def tag_forecast(  # noqa: PLR0913, PLR0917 - the documented query parameters
    principal: PrincipalDep,
    store: StoreDep,
    forecaster: ForecasterDep,
    tag: Annotated[
        str, Query(min_length=1, max_length=64, description="every device with this tag")
    ],
    hours: Hours = 24,
    tz: Tz = "UTC",
) -> TagForecastOut:
    """The tag's devices' forecasts summed hour by hour (p10s and p90s summed too)."""
    zone = _tz(tz)
    devices, skipped = [], {}
    for device_id in select_fleet(store, principal, None, None, tag, every=False):
        try:
            devices.append(forecaster.forecast(device_id, hours, zone))
        except NoPowerSeriesError:
            skipped[device_id] = "reports no power"
        except ValueError as exc:
            skipped[device_id] = str(exc)
    if not devices:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"no device tagged {tag!r} can be forecast"
        )
    summed = [
        ForecastHour(
            column[0].start_ms,
            sum(p.kwh for p in column),
            sum(p.p10_kwh for p in column),
            sum(p.p90_kwh for p in column),
        )
        for column in zip(*(d.hours for d in devices), strict=True)
    ]
    return TagForecastOut(
        tag=tag,
        tz=zone.key,
        hours=_hours(summed),
        devices=[_device_out(d, zone) for d in devices],
        skipped=skipped,
    )
