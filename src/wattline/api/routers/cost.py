"""What energy cost: per device, tag or tenant, per local day, week or month.

The kWh come from the same computation as ``/energy`` (``fleet_energy_wh``),
cut at every instant the price can change (``tariffs.price_edges``), so each
segment has one price; each bucket lists the parts it is made of: tariff,
version, period, direction, kWh, price and amount.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from wattline.analytics.costing import (
    BucketCost,
    CostLine,
    Direction,
    Part,
    needs_month_start,
    rate_segments,
    standing_charges,
    summarise,
    to_cents,
)
from wattline.analytics.energy import DEFAULT_MAX_GAP_S, CounterRules
from wattline.analytics.tariffs import Tariff, local_month_start_ms, price_edges
from wattline.api.deps import AdminFirstRoute, PrincipalDep, StoreDep, require
from wattline.api.fleet import All, Devices, DeviceType, Tag, select_fleet
from wattline.api.params import default_start_ms, parse_time_ms
from wattline.api.routers.energy import Source, fleet_energy_wh
from wattline.api.routers.tariffs import EnergyDataDep
from wattline.grid.tariff_lookup import DeviceTariff, TariffLookup
from wattline.model.calendar import Interval, Unit, bucket_edges, parse_interval, parse_tz
from wattline.model.devices import Device
from wattline.model.times import DAY_MS, iso_ms
from wattline.security.roles import Role
from wattline.storage.ports import TelemetryStore

router = APIRouter(
    tags=["energy"], dependencies=[require(Role.VIEWER)], route_class=AdminFirstRoute
)

# A year and a month: a monthly bill over a year with its tier warm-up; the
# price edges of a ToU tariff over it are a few thousand.
MAX_RANGE_MS = 400 * DAY_MS
# 400 days of daily buckets, with room for bucket_edges' 23-hour-day bound (418)
MAX_BUCKETS = 500
EXPORT_METRIC = "energy_export_wh"


@dataclass(frozen=True, slots=True)
class Segments:
    """An ``EnergyPlan``: energy between price edges, by the /energy rules."""

    edges: Sequence[int]
    source: Source = "auto"
    metric: str | None = None
    max_gap_s: float = DEFAULT_MAX_GAP_S
    rules: CounterRules = field(default_factory=CounterRules)


class PartOut(BaseModel):
    tariff_id: str
    direction: str = Field(description="import, export (a credit) or standing (per day)")
    effective_from: str | None = Field(description="the tariff version; null: unpriced")
    period: str = Field(description="ToU period, tier, standing charge, export or unpriced")
    kwh: float
    price: float = Field(description="per kWh; per day for a standing charge")
    days: int = Field(description="standing charges: days charged")
    amount: float = Field(description="kwh x price (days x price); negative for a credit")


class CostBucketOut(BaseModel):
    start: str
    end: str
    import_kwh: float
    export_kwh: float
    cost: float = Field(description="imports + standing charges - export credits, to the cent")
    parts: list[PartOut]


class DeviceCostOut(BaseModel):
    device_id: str
    tariff_id: str | None = Field(description="null: no tariff applies to the device")
    direction: str | None
    import_kwh: float
    export_kwh: float
    energy_cost: float = Field(description="without standing charges, to the cent")


class CostOut(BaseModel):
    currency: str
    interval: str
    tz: str
    start: str
    end: str
    import_kwh: float
    export_kwh: float
    cost: float
    buckets: list[CostBucketOut]
    devices: list[DeviceCostOut]


def _report_edges(start: str | None, end: str | None, interval: str, tz: str) -> list[int]:
    try:
        end_ms = parse_time_ms(end, "end") if end else time.time_ns() // 1_000_000
        start_ms = parse_time_ms(start, "start") if start else default_start_ms(end_ms, 30 * DAY_MS)
        parsed = parse_interval(interval)
        zone = parse_tz(tz)
        _check_report(start_ms, end_ms, parsed)
        return bucket_edges(start_ms, end_ms, parsed, zone, MAX_BUCKETS)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


def _check_report(start_ms: int, end_ms: int, interval: Interval) -> None:
    if interval.unit is Unit.FIXED:
        raise ValueError("interval: cost is reported per local day, week or month (1d, 1w, 1mo)")
    if start_ms >= end_ms:
        raise ValueError("start must be before end")
    if end_ms - start_ms > MAX_RANGE_MS:
        raise ValueError("a cost report covers at most 400 days; shorten the range")


def device_lines(
    store: TelemetryStore, tariff: DeviceTariff, device_ids: list[str], report_edges: list[int]
) -> dict[str, list[CostLine]]:
    """Per device, the priced segments of the report's range (from its month start for tiers)."""
    start_ms, end_ms = report_edges[0], report_edges[-1]
    if needs_month_start(tariff.tariff, start_ms, end_ms):
        start_ms = local_month_start_ms(start_ms, tariff.tariff.zone)
    edges = price_edges(tariff.tariff, start_ms, end_ms, report_edges)
    counted = fleet_energy_wh(store, device_ids, Segments(edges))
    exported = fleet_energy_wh(store, device_ids, Segments(edges, "counter", EXPORT_METRIC))
    lines: dict[str, list[CostLine]] = {}
    for device_id in device_ids:
        found, export_found = counted[device_id], exported[device_id]
        net_wh = found[2] if found is not None else [0.0] * (len(edges) - 1)
        imports = [max(wh, 0.0) for wh in net_wh]
        # signed power: a segment's net energy below zero was fed in
        exports = [max(-wh, 0.0) for wh in net_wh]
        if export_found is not None:
            exports = [a + b for a, b in zip(exports, export_found[2], strict=True)]
        if tariff.direction == Direction.EXPORT:
            imports, exports = exports, imports
        lines[device_id] = rate_segments(tariff.tariff, edges, imports, exports)
    return lines


def _part_out(part: Part) -> PartOut:
    return PartOut(
        tariff_id=part.tariff_id,
        direction=part.direction.value,
        effective_from=part.effective_from.isoformat() if part.effective_from else None,
        period=part.period,
        kwh=round(part.kwh, 9),
        price=part.price,
        days=part.days,
        amount=float(part.amount.quantize(Decimal("0.000001"))),
    )


def _bucket_out(bucket: BucketCost) -> CostBucketOut:
    return CostBucketOut(
        start=iso_ms(bucket.start_ms),
        end=iso_ms(bucket.end_ms),
        import_kwh=round(bucket.import_kwh, 9),
        export_kwh=round(bucket.export_kwh, 9),
        cost=float(to_cents(bucket.amount())),
        parts=[_part_out(p) for p in bucket.parts.values()],
    )


def _selected_devices(store: TelemetryStore, tenant_id: str, device_ids: list[str]) -> list[Device]:
    # Another tenant's device shared with the caller is priced by its own tenant: not here.
    found = (store.get_device(d, tenant_id=tenant_id) for d in device_ids)
    return [d for d in found if d is not None]


@router.get("/api/v1/energy/cost", responses={404: {"description": "unknown devices"}})
def get_cost(  # noqa: PLR0913, PLR0917 - the documented query parameters
    store: StoreDep,
    data: EnergyDataDep,
    principal: PrincipalDep,
    devices: Devices = None,
    device_type: DeviceType = None,
    tag: Tag = None,
    every: All = False,
    start: Annotated[
        str | None, Query(description="ISO 8601 or epoch ms; default end - 30 days")
    ] = None,
    end: Annotated[
        str | None, Query(description="ISO 8601 or epoch ms, exclusive; default now")
    ] = None,
    interval: Annotated[str, Query(description="1d, 1w or 1mo (local days, weeks, months)")] = "1d",
    tz: Annotated[str, Query(description="IANA time zone of the report's buckets")] = "UTC",
) -> CostOut:
    """kWh imported and exported and what they cost, with the tariff part each came from."""
    report_edges = _report_edges(start, end, interval, tz)
    selected = select_fleet(store, principal, devices, device_type, tag, every=every)
    own = _selected_devices(store, principal.tenant_id, selected)
    tariffs = TariffLookup(data).tariffs_for(principal.tenant_id, own)
    by_tariff: dict[str, tuple[DeviceTariff, list[str]]] = {}
    for device_id, found in tariffs.items():
        if found is not None:
            key = f"{found.tariff.tariff_id}/{found.direction}"
            by_tariff.setdefault(key, (found, []))[1].append(device_id)
    per_device: dict[str, list[CostLine]] = {}
    for found, device_ids in by_tariff.values():
        per_device.update(device_lines(store, found, device_ids, report_edges))
    used: dict[str, Tariff] = {f.tariff.tariff_id: f.tariff for f, _ in by_tariff.values()}
    lines = [(_tariff_id(tariffs[d]), d_lines) for d, d_lines in per_device.items()]
    # A standing charge is per supply, once a day for each tariff in the answer.
    lines += [
        (t.tariff_id, standing_charges(t, report_edges[0], report_edges[-1])) for t in used.values()
    ]
    buckets = summarise(report_edges, lines)
    return CostOut(
        currency=data.settings(principal.tenant_id).currency,
        interval=interval.strip(),
        tz=tz,
        start=iso_ms(report_edges[0]),
        end=iso_ms(report_edges[-1]),
        import_kwh=round(sum(b.import_kwh for b in buckets), 9),
        export_kwh=round(sum(b.export_kwh for b in buckets), 9),
        cost=float(to_cents(sum((b.amount() for b in buckets), Decimal(0)))),
        buckets=[_bucket_out(b) for b in buckets],
        devices=[
            _device_out(
                device_id, tariffs.get(device_id), per_device.get(device_id, []), report_edges
            )
            for device_id in selected
        ],
    )


def _tariff_id(found: DeviceTariff | None) -> str:
    return found.tariff.tariff_id if found is not None else ""


def _device_out(
    device_id: str, found: DeviceTariff | None, lines: list[CostLine], report_edges: list[int]
) -> DeviceCostOut:
    inside = [line for line in lines if report_edges[0] <= line.start_ms < report_edges[-1]]
    return DeviceCostOut(
        device_id=device_id,
        tariff_id=found.tariff.tariff_id if found else None,
        direction=found.direction if found else None,
        import_kwh=round(sum(x.kwh for x in inside if x.direction is Direction.IMPORT), 9),
        export_kwh=round(sum(x.kwh for x in inside if x.direction is Direction.EXPORT), 9),
        energy_cost=float(to_cents(sum((x.amount for x in inside), Decimal(0)))),
    )
