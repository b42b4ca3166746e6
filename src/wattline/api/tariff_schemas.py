"""Request and response bodies of the tariff routes; the shape ``analytics.tariff_json`` keeps."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field

# Bounds: a real tariff has a handful of versions and periods; these keep a
# body (and the per-day edge computation) small whatever a client sends.
MAX_VERSIONS = 100
MAX_PERIODS = 48
MAX_TIERS = 20
MAX_PRICE = 1_000_000.0
# Dates a calendar and the store can hold without overflow anywhere.
FIRST_DATE = date(1970, 1, 1)
LAST_DATE = date(9999, 12, 30)

Price = Annotated[float, Field(ge=0, le=MAX_PRICE, allow_inf_nan=False)]
HhMm = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$", examples=["00:30"])]
TariffId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. GBP, EUR")]


class PeriodIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    weekdays: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        default=[1, 2, 3, 4, 5, 6, 7], min_length=1, max_length=7, description="ISO: Monday = 1"
    )
    start: HhMm
    end: HhMm = Field(description="exclusive; before start: the period runs past midnight")
    price_per_kwh: Price


class TierIn(BaseModel):
    up_to_kwh: Annotated[float, Field(gt=0, le=1e12, allow_inf_nan=False)] | None = Field(
        description="kWh imported in the month up to which this price holds; null: no limit"
    )
    price_per_kwh: Price


class VersionIn(BaseModel):
    effective_from: date = Field(ge=FIRST_DATE, le=LAST_DATE, description="local date, inclusive")
    effective_to: date | None = Field(
        default=None, ge=FIRST_DATE, le=LAST_DATE, description="local date, exclusive"
    )
    pricing: Literal["flat", "tou", "tiered"]
    price_per_kwh: Price = Field(
        default=0.0, description="flat: the price; tou: outside every period"
    )
    periods: list[PeriodIn] = Field(default=[], max_length=MAX_PERIODS)
    tiers: list[TierIn] = Field(default=[], max_length=MAX_TIERS)
    standing_charge_per_day: Price = 0.0
    export_price_per_kwh: Price = 0.0


class TariffIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    tz: str = Field(min_length=1, max_length=64, description="IANA zone of dates and times")
    versions: list[VersionIn] = Field(min_length=1, max_length=MAX_VERSIONS)


class TariffOut(TariffIn):
    tariff_id: str
    created_at: str
    updated_at: str


class TariffList(BaseModel):
    tariffs: list[TariffOut]


class AssignmentIn(BaseModel):
    target_kind: Literal["device", "tag", "tenant"]
    target: str = Field(
        default="", max_length=64, description="device id or tag; empty for the tenant"
    )
    tariff_id: TariffId
    direction: Literal["import", "export"] = Field(
        default="import", description="export: the device's energy is fed in (a PV inverter)"
    )


class AssignmentList(BaseModel):
    assignments: list[AssignmentIn]


class SettingsIn(BaseModel):
    currency: Currency
    carbon_zone: str | None = Field(
        default=None, pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,8})?$", description="e.g. GB, DE, US-CAL"
    )
    latitude_deg: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    longitude_deg: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
