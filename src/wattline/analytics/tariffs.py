"""Tariffs as data, and the price of energy at an instant. Pure.

A tariff is a list of *versions*, each in force over local dates
``[effective_from, effective_to)`` of the tariff's time zone, so a price change
on 1 March is a new version from 1 March and the old figures can be re-rated.
A version prices imported energy one of three ways:

- **flat**: one price per kWh;
- **time of use** (``tou``): periods by local wall-clock time and ISO weekday
  (Monday = 1), the version's ``price_per_kwh`` outside every period. A period
  may run past midnight (23:30-05:30): its part after midnight belongs to the
  next weekday. Wall-clock time means a DST day's cheap window lasts what the
  clock says: an autumn night window covering 01:00-02:00 covers both 01:00s;
- **tiered**: price bands by the kWh already imported in the local calendar month.

Each version also has a standing charge per local day and an export (feed-in)
price per kWh. ``docs/energy.md`` has a worked example of each.

``price_edges`` lists every instant where a price can change over a range, so
energy computed per segment between consecutive edges (``analytics.energy``)
has one price per segment; ``analytics.costing`` turns segments into money.
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from wattline.model.calendar import local_midnight_ms

MINUTES_PER_DAY = 1440
STANDARD_PERIOD = "standard"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
# Offsets are sampled this often to find a DST change inside a day; every zone
# in the tz database changes on a quarter hour.
_OFFSET_PROBE_MS = 15 * 60_000


class Pricing(StrEnum):
    FLAT = "flat"
    TIME_OF_USE = "tou"
    TIERED = "tiered"


class TariffError(ValueError):
    """A tariff that cannot be used, naming the field at fault (for a 422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class Period:
    """A time-of-use window: local minutes [start_min, end_min) on the given weekdays."""

    name: str
    weekdays: frozenset[int]  # ISO: Monday = 1 .. Sunday = 7
    start_min: int
    end_min: int  # may be <= start_min: the window runs past midnight
    price_per_kwh: float

    def covers(self, weekday: int, minute: int) -> bool:
        if self.start_min < self.end_min:
            return weekday in self.weekdays and self.start_min <= minute < self.end_min
        # Past midnight: the evening part on its own weekday, the morning part the day after.
        if minute >= self.start_min:
            return weekday in self.weekdays
        return minute < self.end_min and (weekday - 2) % 7 + 1 in self.weekdays


@dataclass(frozen=True, slots=True)
class Tier:
    """Price of the kWh imported in a month up to ``up_to_kwh`` (None: no upper limit)."""

    up_to_kwh: float | None
    price_per_kwh: float


@dataclass(frozen=True, slots=True)
class TariffVersion:
    effective_from: date
    effective_to: date | None  # exclusive; None: until further notice
    pricing: Pricing
    # flat: the price; tou: the price outside every period; tiered: unused (0)
    price_per_kwh: float = 0.0
    periods: tuple[Period, ...] = ()
    tiers: tuple[Tier, ...] = ()
    standing_charge_per_day: float = 0.0
    export_price_per_kwh: float = 0.0

    def in_force(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)


@dataclass(frozen=True, slots=True)
class Tariff:
    tariff_id: str
    name: str
    tz: str  # IANA zone of the dates and wall-clock times
    versions: tuple[TariffVersion, ...]  # by effective_from, non-overlapping

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def version_on(self, day: date) -> TariffVersion | None:
        """The version in force on this local date; None outside every version."""
        index = bisect_right([v.effective_from for v in self.versions], day) - 1
        if index >= 0 and self.versions[index].in_force(day):
            return self.versions[index]
        return None


@dataclass(frozen=True, slots=True)
class Price:
    """What a kWh costs at one instant: the consumer's view of the tariff then."""

    period: str  # the ToU period's name, the tier ("tier 2"), or "standard"
    import_per_kwh: float
    export_per_kwh: float
    effective_from: date  # the version in force


def local_time(ts_ms: int, zone: ZoneInfo) -> datetime:
    return (_EPOCH + ts_ms * _MS).astimezone(zone)


def price_at(tariff: Tariff, ts_ms: int, month_kwh: float = 0.0) -> Price | None:
    """The price at an instant; None when no version is in force.

    ``month_kwh``: kWh already imported this local month, which picks a tier.
    This is the look-up for anything that acts on the current price (forecasts,
    recommendations); costing a range uses ``price_edges`` and segments.
    """
    local = local_time(ts_ms, tariff.zone)
    version = tariff.version_on(local.date())
    if version is None:
        return None
    if version.pricing is Pricing.TIERED:
        index = tier_index(version.tiers, month_kwh)
        return Price(
            tier_name(index),
            version.tiers[index].price_per_kwh,
            version.export_price_per_kwh,
            version.effective_from,
        )
    name, price = period_price(version, local)
    return Price(name, price, version.export_price_per_kwh, version.effective_from)


def period_price(version: TariffVersion, local: datetime) -> tuple[str, float]:
    """(period name, import price per kWh) of a flat or ToU version at a local wall time."""
    minute = local.hour * 60 + local.minute
    for period in version.periods:
        if period.covers(local.isoweekday(), minute):
            return period.name, period.price_per_kwh
    return STANDARD_PERIOD, version.price_per_kwh


def tier_index(tiers: Sequence[Tier], month_kwh: float) -> int:
    """The tier the next kWh falls in after ``month_kwh`` this month."""
    for index, tier in enumerate(tiers):
        if tier.up_to_kwh is None or month_kwh < tier.up_to_kwh:
            return index
    return len(tiers) - 1


def tier_name(index: int) -> str:
    return f"tier {index + 1}"


def price_edges(tariff: Tariff, start_ms: int, end_ms: int, extra: Iterable[int] = ()) -> list[int]:
    """Every instant in [start_ms, end_ms] where the tariff's price can change, sorted.

    Includes start and end, each local midnight (standing charges, versions,
    months), each ToU boundary on each local day (both instants of a wall time
    that a DST autumn repeats) and each UTC-offset change, plus ``extra``
    (a report's bucket edges). Between two consecutive edges the wall-clock
    time runs without a jump and crosses no boundary, so one price holds.
    """
    zone = tariff.zone
    edges = {start_ms, end_ms, *(e for e in extra if start_ms <= e <= end_ms)}
    day = local_time(start_ms, zone).date()
    while (midnight := local_midnight_ms(day, zone)) < end_ms:
        next_midnight = (
            end_ms if day == date.max else local_midnight_ms(day + timedelta(days=1), zone)
        )
        edges.add(midnight)
        version = tariff.version_on(day)
        periods = version.periods if version is not None else ()
        minutes = {p.start_min for p in periods} | {p.end_min for p in periods}
        for minute in minutes - {0, MINUTES_PER_DAY}:  # midnights are edges already
            wall = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
            for fold in (0, 1):
                edges.add((wall.replace(fold=fold) - _EPOCH) // _MS)
        edges.update(_offset_changes(midnight, next_midnight, zone))
        if day == date.max:
            break
        day += timedelta(days=1)
    return sorted(e for e in edges if start_ms <= e <= end_ms)


def _offset_changes(start_ms: int, end_ms: int, zone: ZoneInfo) -> list[int]:
    """Instants in (start_ms, end_ms) where the zone's UTC offset changes.

    Called per local day: a day that ends on the offset it began with is taken
    to have no change (no zone changes twice within a day), and costs two look-ups.
    """
    changes: list[int] = []
    previous = local_time(start_ms, zone).utcoffset()
    if local_time(end_ms - 1, zone).utcoffset() == previous:
        return changes
    probe = start_ms
    while probe < end_ms:
        following = min(probe + _OFFSET_PROBE_MS, end_ms)
        offset = local_time(following, zone).utcoffset()
        if offset != previous:
            low, high = probe, following  # offset(low) == previous != offset(high)
            while high - low > 1:
                middle = (low + high) // 2
                if local_time(middle, zone).utcoffset() == previous:
                    low = middle
                else:
                    high = middle
            changes.append(high)
            previous = offset
        probe = following
    return changes


def local_month_start_ms(ts_ms: int, zone: ZoneInfo) -> int:
    """The local midnight starting the calendar month holding ``ts_ms``."""
    return local_midnight_ms(local_time(ts_ms, zone).date().replace(day=1), zone)


def check_tariff(tariff: Tariff) -> None:
    """Raise ``TariffError`` naming the first field that makes the tariff unusable.

    Types and ranges are the API schema's job; this checks what relates fields:
    versions in date order without overlap, each version's pricing complete,
    ToU periods that do not overlap, tiers rising to an open last tier.
    """
    if not tariff.versions:
        raise TariffError("versions", "a tariff needs at least one version")
    previous: TariffVersion | None = None
    for index, version in enumerate(tariff.versions):
        field = f"versions[{index}]"
        if version.effective_to is not None and version.effective_to <= version.effective_from:
            raise TariffError(f"{field}.effective_to", "must be after effective_from")
        if previous is not None and (
            previous.effective_to is None or previous.effective_to > version.effective_from
        ):
            raise TariffError(
                f"{field}.effective_from",
                f"overlaps versions[{index - 1}]; versions must be in date order without"
                " overlap (end the earlier one with effective_to)",
            )
        _check_pricing(version, field)
        previous = version


def _check_pricing(version: TariffVersion, field: str) -> None:
    if version.pricing is Pricing.TIERED:
        if not version.tiers:
            raise TariffError(f"{field}.tiers", "a tiered version needs at least one tier")
        limits = [t.up_to_kwh for t in version.tiers]
        if limits[-1] is not None:
            raise TariffError(f"{field}.tiers", "the last tier must have no upper limit (null)")
        bounded = [limit for limit in limits[:-1] if limit is not None]
        if len(bounded) != len(limits) - 1 or bounded != sorted(set(bounded)):
            raise TariffError(
                f"{field}.tiers", "up_to_kwh must rise from tier to tier; only the last is null"
            )
    elif version.tiers:
        raise TariffError(f"{field}.tiers", "only a tiered version has tiers")
    if version.pricing is not Pricing.TIME_OF_USE and version.periods:
        raise TariffError(f"{field}.periods", "only a tou version has periods")
    if version.pricing is Pricing.TIME_OF_USE:
        if not version.periods:
            raise TariffError(f"{field}.periods", "a tou version needs at least one period")
        _check_periods(version.periods, f"{field}.periods")


def _check_periods(periods: Sequence[Period], field: str) -> None:
    week_min = 7 * MINUTES_PER_DAY
    spans: list[tuple[int, int, int]] = []  # [start, end) minutes of the week, period index
    for index, period in enumerate(periods):
        length = (period.end_min - period.start_min) % MINUTES_PER_DAY
        if period.end_min == MINUTES_PER_DAY and period.start_min == 0:
            length = MINUTES_PER_DAY
        if length == 0:
            raise TariffError(f"{field}[{index}]", "start and end must differ")
        for weekday in period.weekdays:
            start = (weekday - 1) * MINUTES_PER_DAY + period.start_min
            if start + length <= week_min:
                spans.append((start, start + length, index))
            else:  # Sunday night into Monday morning
                spans.extend([(start, week_min, index), (0, start + length - week_min, index)])
    spans.sort()
    for (_, end, first), (start, _, second) in itertools.pairwise(spans):
        if start < end:
            day, minute = divmod(start, MINUTES_PER_DAY)
            raise TariffError(
                f"{field}[{max(first, second)}]",
                f"overlaps {field}[{min(first, second)}] on ISO weekday {day + 1} at"
                f" {minute // 60:02d}:{minute % 60:02d}",
            )
