"""Carbon and weather: the fallback against hand-computed grams, recorded provider
answers parsed, and a provider that is down replaced by the fallback, flagged."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from wattline.analytics.carbon import emissions_g, fallback_table
from wattline.grid.carbon_providers import ElectricityMaps, UkCarbonIntensity
from wattline.grid.fetcher import GridFetcher
from wattline.grid.providers import CARBON, CLOUD_COVER, GHI, TEMPERATURE, HourValue
from wattline.grid.sources import CarbonLookup, fetch_carbon, fetch_weather
from wattline.grid.weather import OpenMeteo
from wattline.storage.energy_data import EnergySettings, GridValue, ValueSource

RECORDED = Path(__file__).parent / "recorded"
LONDON = ZoneInfo("Europe/London")
H_MS = 3_600_000
T10 = int(datetime.fromisoformat("2026-06-10T10:00:00+00:00").timestamp() * 1000)


def local_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=LONDON).timestamp() * 1000)


def serving(name: str, seen: list[httpx.Request] | None = None) -> httpx.Client:
    body = json.loads((RECORDED / name).read_text())

    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(200, json=body)

    return httpx.Client(transport=httpx.MockTransport(handler))


def down(status: int | None = None) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        if status is None:
            raise httpx.ConnectError("no route to host", request=request)
        return httpx.Response(status, text="maintenance")

    return httpx.Client(transport=httpx.MockTransport(handler))


def test_the_profiles_average_to_one() -> None:
    table = fallback_table()
    assert sum(table.hourly) == pytest.approx(24)
    assert sum(table.monthly) == pytest.approx(12)
    assert table.zones["GB"].annual_g_per_kwh == 238


def test_fallback_grams_of_a_known_profile() -> None:
    # 1 kWh in each of three January hours in London: 00:00, 12:00 and 18:00 local.
    # GB 238 g x January 1.12 x (hour 0: 0.98 + hour 12: 0.91 + hour 18: 1.14)
    hours = [local_ms(f"2026-01-15T{h:02d}:00:00") for h in (0, 12, 18)]
    values = fetch_carbon([], "GB", hours[0], hours[-1] + H_MS, now_ms=0)
    by_hour = {v.ts_ms: v for v in values}
    assert all(by_hour[h].source is ValueSource.FALLBACK for h in hours)
    grams = emissions_g([1000.0] * 3, [by_hour[h].value for h in hours])
    assert grams == pytest.approx(238 * 1.12 * (0.98 + 0.91 + 1.14))  # 807.68 g
    assert round(grams, 2) == 807.68


def test_uk_carbon_intensity_recorded_answer() -> None:
    seen: list[httpx.Request] = []
    provider = UkCarbonIntensity(serving("uk_intensity.json", seen))
    values = provider.hourly_intensity("GB", T10, T10 + 2 * H_MS)
    # actual where measured, the forecast where actual is null; half-hours averaged
    assert values == [HourValue(T10, (118 + 112) / 2), HourValue(T10 + H_MS, (101 + 99) / 2)]
    assert seen[0].url.path == "/intensity/2026-06-10T10:00Z/2026-06-10T12:00Z"


def test_electricity_maps_recorded_answer() -> None:
    seen: list[httpx.Request] = []
    provider = ElectricityMaps(serving("electricity_maps_past_range.json", seen), "token-1")
    values = provider.hourly_intensity("DE", T10, T10 + 2 * H_MS)
    assert values == [HourValue(T10, 402.0), HourValue(T10 + H_MS, 388.0)]
    assert seen[0].headers["auth-token"] == "token-1"
    assert seen[0].url.params["zone"] == "DE"


def test_open_meteo_recorded_answer() -> None:
    provider = OpenMeteo(serving("open_meteo_forecast.json"))
    found = provider.hourly_weather(51.5, -0.12, T10 - H_MS, T10 + 3 * H_MS)
    # radiation is the mean of the hour before its stamp
    assert found[GHI] == [
        HourValue(T10 - H_MS, 610.0),
        HourValue(T10, 702.0),
        HourValue(T10 + H_MS, 745.0),
    ]
    assert found[TEMPERATURE][0] == HourValue(T10, 19.4)
    assert [v.value for v in found[CLOUD_COVER]] == [12.0, 8.0]


@pytest.mark.parametrize("client", [down(), down(503)], ids=["unreachable", "http-503"])
def test_a_provider_down_gives_the_fallback_flagged(client: httpx.Client) -> None:
    values = fetch_carbon([UkCarbonIntensity(client)], "GB", T10, T10 + 2 * H_MS, now_ms=T10)
    assert [v.source for v in values] == [ValueSource.FALLBACK] * 2
    assert values[0].value == pytest.approx(fallback_table().intensity("GB", T10 + H_MS // 2))
    weather = fetch_weather(OpenMeteo(client), (51.5, -0.12), T10, T10 + 2 * H_MS, now_ms=T10)
    assert {v.series for v in weather} == {GHI}
    assert all(v.source is ValueSource.FALLBACK and v.value > 100 for v in weather)


def test_live_values_fill_what_they_cover_and_the_fallback_the_rest() -> None:
    provider = UkCarbonIntensity(serving("uk_intensity.json"))
    values = fetch_carbon([provider], "GB", T10, T10 + 3 * H_MS, now_ms=T10)
    assert [v.source for v in values] == [ValueSource.LIVE, ValueSource.LIVE, ValueSource.FALLBACK]
    assert values[0].provider == "carbonintensity.org.uk"


class MemoryGrid:
    def __init__(self) -> None:
        self.values: dict[tuple[str, str, int], GridValue] = {}
        self.settings = {"t1": EnergySettings("GBP", "GB", 51.5, -0.12)}

    def put_grid_values(self, tenant_id: str, values: list[GridValue]) -> None:
        for v in values:
            self.values[tenant_id, v.series, v.ts_ms] = v

    def grid_values(
        self, tenant_id: str, series: str, start_ms: int, end_ms: int
    ) -> list[GridValue]:
        return sorted(
            (
                v
                for (t, s, ts), v in self.values.items()
                if t == tenant_id and s == series and start_ms <= ts < end_ms
            ),
            key=lambda v: v.ts_ms,
        )

    def settings_of_all(self) -> dict[str, EnergySettings]:
        return self.settings


class OneHolder:
    def __init__(self) -> None:
        self.holder: str | None = None

    def try_acquire(self, name: str, holder: str, ttl_ms: int) -> bool:
        del name, ttl_ms
        self.holder = self.holder or holder
        return self.holder == holder


def test_the_fetcher_stores_for_each_tenant_under_one_lease() -> None:
    store, leases = MemoryGrid(), OneHolder()
    client = serving("uk_intensity.json")
    first = GridFetcher(
        store, leases, "a", [UkCarbonIntensity(client)], None, clock_ms=lambda: T10 + H_MS
    )
    second = GridFetcher(
        store, leases, "b", [UkCarbonIntensity(client)], None, clock_ms=lambda: T10 + H_MS
    )
    stored = first.run_once()
    assert stored is not None
    assert stored["t1"] > 48  # 48 hours of carbon, and the clear-sky irradiance
    assert second.run_once() is None
    lookup = CarbonLookup(store)
    value = lookup.intensity_at("t1", "GB", T10 + 10 * 60_000, now_ms=T10 + H_MS)
    assert value is not None
    assert (value.source, value.value) == (ValueSource.CACHED, 115.0)
    fallback = lookup.intensity_at("t1", "GB", T10 + 5 * H_MS, now_ms=T10)
    assert fallback is not None
    assert fallback.source is ValueSource.FALLBACK
    assert store.values["t1", CARBON, T10].source is ValueSource.LIVE
