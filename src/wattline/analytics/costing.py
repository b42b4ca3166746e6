"""Money from energy: segments priced by a tariff, summed per report bucket. Pure.

The caller computes Wh per *segment*, the spans between consecutive
``tariffs.price_edges`` (so one price holds in each), with the same functions
as every kWh figure (``analytics.energy``). ``rate_segments`` prices them;
``standing_charges`` adds a charge per local day; ``summarise`` folds the lines
into report buckets, one part per (direction, version, period, price), so each
amount says where it came from.

Signs: imports and standing charges are positive amounts, exports negative
(a credit); a bucket's cost is their sum. Tiers count each device's imports
from the start of its local month, so the first segment given must start at
a local month start when a tiered version is in force (``needs_month_start``).
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from wattline.analytics.tariffs import (
    Pricing,
    Tariff,
    TariffVersion,
    local_time,
    period_price,
    tier_index,
    tier_name,
)
from wattline.model.calendar import local_midnight_ms

UNPRICED = "unpriced"  # energy on a date no version of the tariff covers
# kWh from integration carry float noise (4.4999999999 for 4.5): rounded to a
# microwatt-hour before pricing, far below any meter's resolution, so that a
# hand-computed 4.5 kWh x 15p is 0.675 and rounds to 0.68, not 0.67.
_KWH_QUANTUM = Decimal("0.000000001")
_CENT = Decimal("0.01")
ZERO = Decimal(0)


def money(kwh: float, price: float) -> Decimal:
    """kWh x price, exact in decimal (prices are decimal fractions, floats are not)."""
    return Decimal(repr(kwh)).quantize(_KWH_QUANTUM) * Decimal(repr(price))


def to_cents(amount: Decimal) -> Decimal:
    """Rounded half up to the cent (a currency's minor unit of 1/100)."""
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


class Direction(StrEnum):
    IMPORT = "import"
    EXPORT = "export"
    STANDING = "standing"


@dataclass(frozen=True, slots=True)
class CostLine:
    start_ms: int  # the segment (or the day, for a standing charge)
    direction: Direction
    period: str
    effective_from: date | None  # the version; None: unpriced
    kwh: float
    price: float  # per kWh; per day for a standing charge
    amount: Decimal  # positive: to pay; negative: a credit


def rate_segments(
    tariff: Tariff, edges: Sequence[int], import_wh: Sequence[float], export_wh: Sequence[float]
) -> list[CostLine]:
    """One line per segment and direction with energy (tiers may split a segment)."""
    zone = tariff.zone
    lines: list[CostLine] = []
    month: tuple[int, int] | None = None
    month_kwh = 0.0
    for start_ms, imported_wh, exported_wh in zip(edges, import_wh, export_wh, strict=False):
        local = local_time(start_ms, zone)
        version = tariff.version_on(local.date())
        if (local.year, local.month) != month:
            month, month_kwh = (local.year, local.month), 0.0
        imported_kwh, exported_kwh = imported_wh / 1000, exported_wh / 1000
        if version is None:
            for direction, kwh in (
                (Direction.IMPORT, imported_kwh),
                (Direction.EXPORT, exported_kwh),
            ):
                if kwh:
                    lines.append(CostLine(start_ms, direction, UNPRICED, None, kwh, 0.0, ZERO))
            continue
        if imported_kwh:
            if version.pricing is Pricing.TIERED:
                lines.extend(_tiered(start_ms, version, month_kwh, imported_kwh))
            else:
                name, price = period_price(version, local)
                lines.append(
                    CostLine(
                        start_ms,
                        Direction.IMPORT,
                        name,
                        version.effective_from,
                        imported_kwh,
                        price,
                        money(imported_kwh, price),
                    )
                )
            month_kwh += imported_kwh
        if exported_kwh:
            price = version.export_price_per_kwh
            lines.append(
                CostLine(
                    start_ms,
                    Direction.EXPORT,
                    "export",
                    version.effective_from,
                    exported_kwh,
                    price,
                    -money(exported_kwh, price),
                )
            )
    return lines


def _tiered(start_ms: int, version: TariffVersion, month_kwh: float, kwh: float) -> list[CostLine]:
    """The segment's kWh split across the tiers it crosses."""
    lines: list[CostLine] = []
    remaining = kwh
    while remaining > 0:
        index = tier_index(version.tiers, month_kwh)
        tier = version.tiers[index]
        room = remaining if tier.up_to_kwh is None else tier.up_to_kwh - month_kwh
        taken = min(remaining, room) if room > 0 else remaining
        lines.append(
            CostLine(
                start_ms,
                Direction.IMPORT,
                tier_name(index),
                version.effective_from,
                taken,
                tier.price_per_kwh,
                money(taken, tier.price_per_kwh),
            )
        )
        month_kwh += taken
        remaining -= taken
    return lines


def standing_charges(tariff: Tariff, start_ms: int, end_ms: int) -> list[CostLine]:
    """One line per local day of the tariff whose midnight is in [start_ms, end_ms)."""
    zone = tariff.zone
    lines: list[CostLine] = []
    day = local_time(start_ms, zone).date()
    while (midnight := local_midnight_ms(day, zone)) < end_ms:
        version = tariff.version_on(day)
        if midnight >= start_ms and version is not None and version.standing_charge_per_day:
            charge = version.standing_charge_per_day
            lines.append(
                CostLine(
                    midnight,
                    Direction.STANDING,
                    "standing charge",
                    version.effective_from,
                    0.0,
                    charge,
                    Decimal(repr(charge)),
                )
            )
        if day == date.max:
            break
        day += timedelta(days=1)
    return lines


def needs_month_start(tariff: Tariff, start_ms: int, end_ms: int) -> bool:
    """Whether a tiered version is in force on some local day of the range."""
    zone = tariff.zone
    first, last = local_time(start_ms, zone).date(), local_time(end_ms, zone).date()
    return any(
        v.pricing is Pricing.TIERED
        and v.effective_from <= last
        and (v.effective_to is None or v.effective_to > first)
        for v in tariff.versions
    )


@dataclass(slots=True)
class Part:
    """The energy and money of one (tariff, direction, version, period, price) in a bucket."""

    tariff_id: str
    direction: Direction
    period: str
    effective_from: date | None
    price: float
    kwh: float = 0.0
    amount: Decimal = ZERO
    days: int = 0  # standing charges: how many days


@dataclass(slots=True)
class BucketCost:
    start_ms: int
    end_ms: int
    parts: dict[tuple[object, ...], Part] = field(default_factory=dict)

    @property
    def import_kwh(self) -> float:
        return sum(p.kwh for p in self.parts.values() if p.direction is Direction.IMPORT)

    @property
    def export_kwh(self) -> float:
        return sum(p.kwh for p in self.parts.values() if p.direction is Direction.EXPORT)

    def amount(self, direction: Direction | None = None) -> Decimal:
        return sum(
            (
                p.amount
                for p in self.parts.values()
                if direction is None or p.direction is direction
            ),
            ZERO,
        )


def summarise(
    report_edges: Sequence[int], lines_by_tariff: Iterable[tuple[str, Iterable[CostLine]]]
) -> list[BucketCost]:
    """The lines folded into the report's buckets; lines outside them are left out."""
    buckets = [BucketCost(a, b) for a, b in itertools.pairwise(report_edges)]
    for tariff_id, lines in lines_by_tariff:
        for line in lines:
            index = bisect_right(report_edges, line.start_ms) - 1
            if not 0 <= index < len(buckets):
                continue
            key = (tariff_id, line.direction, line.period, line.effective_from, line.price)
            part = buckets[index].parts.get(key)
            if part is None:
                part = buckets[index].parts[key] = Part(
                    tariff_id, line.direction, line.period, line.effective_from, line.price
                )
            part.kwh += line.kwh
            part.amount += line.amount
            part.days += line.direction is Direction.STANDING
    return buckets
