"""Tariff bodies and cost ranges at their limits: a valid tariff or a 422 naming the field,
never a crash (hypothesis)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi import HTTPException
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from wattline.analytics.tariffs import price_at, price_edges
from wattline.api.routers.cost import MAX_RANGE_MS, _report_edges
from wattline.api.routers.tariffs import tariff_from_body
from wattline.api.tariff_schemas import LAST_DATE, MAX_PRICE, TariffIn
from wattline.model.calendar import local_midnight_ms

LAST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the API's last instant
prices = st.one_of(st.sampled_from([0.0, MAX_PRICE, -0.0001, MAX_PRICE * 1.0001]), st.floats(0, 2))
hhmm = st.one_of(
    st.sampled_from(["00:00", "23:59", "24:00", "24:01", "12:60", "7:00"]),
    st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59)),
)
dates = st.one_of(
    st.sampled_from([date(1970, 1, 1), LAST_DATE, date(1969, 12, 31), date(9999, 12, 31)]),
    st.dates(date(1970, 1, 1), date(2100, 1, 1)),
)
periods = st.fixed_dictionaries(
    {
        "name": st.text(min_size=0, max_size=65),
        "weekdays": st.lists(st.integers(0, 8), min_size=0, max_size=8),
        "start": hhmm,
        "end": hhmm,
        "price_per_kwh": prices,
    }
)
tiers = st.fixed_dictionaries(
    {"up_to_kwh": st.one_of(st.none(), st.floats(-1, 1e13)), "price_per_kwh": prices}
)
versions = st.fixed_dictionaries(
    {
        "effective_from": dates.map(str),
        "effective_to": st.one_of(st.none(), dates.map(str)),
        "pricing": st.sampled_from(["flat", "tou", "tiered", "weird"]),
        "price_per_kwh": prices,
        "periods": st.lists(periods, max_size=4),
        "tiers": st.lists(tiers, max_size=4),
        "standing_charge_per_day": prices,
        "export_price_per_kwh": prices,
    }
)
bodies = st.fixed_dictionaries(
    {
        "name": st.text(min_size=0, max_size=201),
        "tz": st.sampled_from(["Europe/London", "UTC", "America/St_Johns", "Nowhere/City", ""]),
        "versions": st.lists(versions, min_size=0, max_size=3),
    }
)


@settings(max_examples=100, deadline=None)
@given(body=bodies)
def test_a_tariff_body_is_valid_or_a_422(body: dict[str, Any]) -> None:
    try:
        parsed = TariffIn.model_validate(body)
    except ValidationError:
        return  # FastAPI answers these 422 with the field's location
    try:
        tariff = tariff_from_body("t", parsed)
    except HTTPException as exc:
        refused: HTTPException | None = exc
    else:
        refused = None
    if refused is not None:
        assert refused.status_code == 422
        assert isinstance(refused.detail, str)
        assert refused.detail.split(":")[0].startswith(("tz", "versions"))
        return
    # a tariff that passed is usable over its whole validity
    start_ms = local_midnight_ms(tariff.versions[0].effective_from, tariff.zone)
    end_ms = min(start_ms + 2 * 86_400_000, LAST_MS)
    edges = price_edges(tariff, start_ms, end_ms)
    assert edges == sorted(set(edges))
    assert price_at(tariff, start_ms) is not None


@given(
    start_ms=st.integers(-62_135_596_800_000, 253_402_300_799_999),
    length_ms=st.sampled_from([1, MAX_RANGE_MS, MAX_RANGE_MS + 1, 86_400_000]),
    interval=st.sampled_from(["1d", "1w", "1mo", "1h", "0d", "2mo"]),
)
def test_cost_ranges_at_the_limits(start_ms: int, length_ms: int, interval: str) -> None:
    try:
        edges = _report_edges(str(start_ms), str(start_ms + length_ms), interval, "Europe/London")
    except HTTPException as exc:
        status_code: int | None = exc.status_code
    else:
        status_code = None
    if status_code is not None:
        assert status_code == 422
        return
    assert edges[0] <= start_ms
    assert edges[-1] >= start_ms + length_ms
    assert length_ms <= MAX_RANGE_MS
    assert interval in {"1d", "1w", "1mo", "2mo"}


def test_the_longest_report_is_accepted() -> None:
    start_ms = 1_767_225_600_000  # 2026-01-01
    edges = _report_edges(str(start_ms), str(start_ms + MAX_RANGE_MS), "1d", "UTC")
    assert len(edges) == 401
    with pytest.raises(HTTPException):
        _report_edges(str(start_ms), str(start_ms + MAX_RANGE_MS + 1), "1d", "UTC")
