"""Tariffs and costing against hand-computed figures, to the cent."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattline.analytics.costing import (
    Direction,
    rate_segments,
    standing_charges,
    summarise,
    to_cents,
)
from wattline.analytics.energy import Point, power_energy
from wattline.analytics.tariffs import (
    Period,
    Pricing,
    Tariff,
    TariffError,
    TariffVersion,
    Tier,
    check_tariff,
    price_at,
    price_edges,
)

LONDON = ZoneInfo("Europe/London")
H_MS = 3_600_000
EVERY_DAY = frozenset(range(1, 8))


def local_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=LONDON).timestamp() * 1000)


def tou(effective_from: date = date(2026, 1, 1), effective_to: date | None = None) -> TariffVersion:
    # night 00:30-04:30 at 10p, 30p otherwise; 45p a day; export 15p
    return TariffVersion(
        effective_from,
        effective_to,
        Pricing.TIME_OF_USE,
        price_per_kwh=0.30,
        periods=(Period("night", EVERY_DAY, 30, 270, 0.10),),
        standing_charge_per_day=0.45,
        export_price_per_kwh=0.15,
    )


def tariff(*versions: TariffVersion) -> Tariff:
    return Tariff("t1", "test", "Europe/London", versions)


def cost_of_constant_power(
    t: Tariff, start_ms: int, end_ms: int, power_w: float
) -> tuple[Decimal, float, float, dict[str, float]]:
    """(cost with standing charges, import kWh, export kWh, kWh per period) of a constant load."""
    edges = price_edges(t, start_ms, end_ms)
    points = [Point(ts, power_w) for ts in range(start_ms - 60_000, end_ms + 60_001, 60_000)]
    net_wh = power_energy(points, edges)
    imports = [max(wh, 0.0) for wh in net_wh]
    exports = [max(-wh, 0.0) for wh in net_wh]
    lines = rate_segments(t, edges, imports, exports) + standing_charges(t, start_ms, end_ms)
    (bucket,) = summarise([start_ms, end_ms], [(t.tariff_id, lines)])
    periods: dict[str, float] = {}
    for part in bucket.parts.values():
        periods[part.period] = periods.get(part.period, 0.0) + part.kwh
    return to_cents(bucket.amount()), bucket.import_kwh, bucket.export_kwh, periods


@pytest.mark.parametrize(
    ("day", "hours", "night_h", "cost"),
    [
        # 25 h: the clock shows 01:00-02:00 twice, both inside the night window;
        # 5 x 0.10 + 20 x 0.30 + 0.45
        ("2026-10-25", 25, 5, "6.95"),
        # 23 h: 01:00-02:00 never happens, the window lasts 3 h; 3 x 0.10 + 20 x 0.30 + 0.45
        ("2026-03-29", 23, 3, "6.75"),
        # 4 x 0.10 + 20 x 0.30 + 0.45
        ("2026-06-10", 24, 4, "6.85"),
    ],
)
def test_time_of_use_across_a_dst_day(day: str, hours: int, night_h: int, cost: str) -> None:
    start_ms = local_ms(f"{day}T00:00:00")
    end_ms = start_ms + hours * H_MS
    amount, imported, exported, periods = cost_of_constant_power(
        tariff(tou()), start_ms, end_ms, 1000.0
    )
    assert amount == Decimal(cost)
    assert imported == pytest.approx(hours)
    assert exported == 0
    assert periods["night"] == pytest.approx(night_h)
    assert periods["standard"] == pytest.approx(hours - night_h)


def test_a_price_change_mid_month_applies_from_its_date() -> None:
    # flat 20p to 14 March, 25p from 15 March; 2 kW all month
    old = TariffVersion(
        date(2026, 1, 1), date(2026, 3, 15), Pricing.FLAT, 0.20, standing_charge_per_day=0.40
    )
    new = TariffVersion(date(2026, 3, 15), None, Pricing.FLAT, 0.25, standing_charge_per_day=0.50)
    t = tariff(old, new)
    start_ms, end_ms = local_ms("2026-03-01T00:00:00"), local_ms("2026-04-01T00:00:00")
    amount, imported, _, _ = cost_of_constant_power(t, start_ms, end_ms, 2000.0)
    # 14 days of 48 kWh at 20p; 17 days (one of them 23 h: 46 kWh) at 25p
    old_kwh, new_kwh = 14 * 48, 16 * 48 + 46
    assert imported == pytest.approx(old_kwh + new_kwh)
    assert amount == Decimal("352.00")  # 134.40 + 203.50 + 5.60 + 8.50


def test_export_is_a_credit_at_the_feed_in_price() -> None:
    start_ms = local_ms("2026-06-10T10:00:00")
    amount, imported, exported, _ = cost_of_constant_power(
        tariff(tou()), start_ms, start_ms + 3 * H_MS, -1500.0
    )
    assert imported == 0
    assert exported == pytest.approx(4.5)
    assert amount == Decimal("-0.68")  # 4.5 kWh x 15p = 67.5p credit, no midnight in range


def test_tiers_follow_the_monthly_consumption() -> None:
    tiered = TariffVersion(
        date(2026, 1, 1),
        None,
        Pricing.TIERED,
        tiers=(Tier(100, 0.10), Tier(300, 0.20), Tier(None, 0.40)),
    )
    t = tariff(tiered)
    start_ms = local_ms("2026-06-01T00:00:00")
    # 1 kW for 15 days: 360 kWh -> 100 at 10p, 200 at 20p, 60 at 40p
    amount, imported, _, periods = cost_of_constant_power(
        t, start_ms, start_ms + 360 * H_MS, 1000.0
    )
    assert imported == pytest.approx(360)
    assert periods == pytest.approx({"tier 1": 100, "tier 2": 200, "tier 3": 60})
    assert amount == Decimal("74.00")


def test_price_at_an_instant() -> None:
    t = tariff(tou())
    night = price_at(t, local_ms("2026-10-25T01:30:00"))
    assert night is not None
    assert (night.period, night.import_per_kwh, night.export_per_kwh) == ("night", 0.10, 0.15)
    day = price_at(t, local_ms("2026-10-25T12:00:00"))
    assert day is not None
    assert (day.period, day.import_per_kwh) == ("standard", 0.30)
    assert price_at(t, local_ms("2025-12-31T12:00:00")) is None


def test_a_window_past_midnight_belongs_to_the_weekday_it_starts() -> None:
    # Friday nights only, 23:00-07:00: Saturday morning is cheap, Friday morning is not
    window = Period("weekend night", frozenset({5}), 23 * 60, 7 * 60, 0.05)
    version = TariffVersion(date(2026, 1, 1), None, Pricing.TIME_OF_USE, 0.30, periods=(window,))
    t = tariff(version)
    saturday = price_at(t, local_ms("2026-06-13T03:00:00"))
    friday = price_at(t, local_ms("2026-06-12T03:00:00"))
    assert saturday is not None
    assert saturday.period == "weekend night"
    assert friday is not None
    assert friday.period == "standard"


@pytest.mark.parametrize(
    ("versions", "field"),
    [
        ((), "versions"),
        ((tou(date(2026, 1, 1), date(2026, 1, 1)),), "versions[0].effective_to"),
        (
            (tou(date(2026, 1, 1), date(2026, 3, 1)), tou(date(2026, 2, 1))),
            "versions[1].effective_from",
        ),
        ((tou(date(2026, 1, 1)), tou(date(2026, 2, 1))), "versions[1].effective_from"),
        (
            (TariffVersion(date(2026, 1, 1), None, Pricing.TIERED, tiers=(Tier(10, 0.1),)),),
            "versions[0].tiers",
        ),
        ((TariffVersion(date(2026, 1, 1), None, Pricing.TIME_OF_USE, 0.3),), "versions[0].periods"),
        (
            (
                TariffVersion(
                    date(2026, 1, 1),
                    None,
                    Pricing.TIME_OF_USE,
                    0.3,
                    periods=(
                        Period("a", EVERY_DAY, 0, 300, 0.1),
                        Period("b", frozenset({7}), 23 * 60, 60, 0.1),
                    ),
                ),
            ),
            "versions[0].periods[1]",
        ),
    ],
)
def test_an_unusable_tariff_names_its_field(
    versions: tuple[TariffVersion, ...], field: str
) -> None:
    with pytest.raises(TariffError) as caught:
        check_tariff(tariff(*versions))
    assert caught.value.field == field


@given(
    start_s=st.integers(0, 4_000_000_000),
    length_s=st.integers(1, 40 * 86_400),
    minutes=st.lists(st.integers(0, 1439), min_size=2, max_size=6, unique=True),
)
def test_edges_cut_every_period_change(start_s: int, length_s: int, minutes: list[int]) -> None:
    """Between consecutive edges the price at the start equals the price just before the end."""
    minutes.sort()
    periods = tuple(
        Period(f"p{i}", EVERY_DAY, a, b, 0.1 * (i + 1))
        for i, (a, b) in enumerate(zip(minutes[::2], minutes[1::2], strict=False))
    )
    t = tariff(TariffVersion(date(1970, 1, 1), None, Pricing.TIME_OF_USE, 1.0, periods=periods))
    check_tariff(t)
    start_ms = start_s * 1000
    edges = price_edges(t, start_ms, start_ms + length_s * 1000)
    assert edges[0] == start_ms
    assert edges[-1] == start_ms + length_s * 1000
    for a, b in itertools.pairwise(edges):
        first, last = price_at(t, a), price_at(t, b - 1)
        assert first is not None
        assert last is not None
        assert first.period == last.period, (a, b)


def test_standing_charges_count_local_days() -> None:
    t = tariff(tou())
    lines = standing_charges(t, local_ms("2026-10-24T00:00:00"), local_ms("2026-10-27T00:00:00"))
    assert [line.direction for line in lines] == [Direction.STANDING] * 3
    assert sum(line.amount for line in lines) == Decimal("1.35")
