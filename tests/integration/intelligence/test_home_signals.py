"""Recommendations priced by the home's own tariff and its tenant's carbon zone."""

from __future__ import annotations

from datetime import UTC, datetime

from wattline.analytics.recommendations import StaticSignals
from wattline.analytics.tariff_json import version_from_dict, versions_to_json
from wattline.grid.home_signals import TenantGridSignals
from wattline.grid.sources import CarbonLookup
from wattline.model.decisions import Home
from wattline.model.messages import Reading
from wattline.storage.base import CommitBatch
from wattline.storage.energy_data import Assignment, EnergySettings, StoredTariff, TargetKind
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore
from wattline.storage.sql.energy import SqlEnergyData

AT_MS = int(datetime(2026, 6, 10, 12, tzinfo=UTC).timestamp() * 1000)
FALLBACK = StaticSignals(prices=[0.5] * 24, carbon=[999.0] * 24)


def test_the_meters_tariff_and_the_tenants_zone_price_the_advice(store: SqlStore) -> None:
    store.commit(
        CommitBatch(readings=[Reading("meter", AT_MS, {"power_w": 1.0})], register=["meter"])
    )
    energy = SqlEnergyData(store.engine)
    flat = version_from_dict(
        {"effective_from": "2026-01-01", "pricing": "flat", "price_per_kwh": 0.25}
    )
    energy.put_tariff(
        DEFAULT_TENANT,
        StoredTariff("flat", "Flat", "Europe/London", versions_to_json((flat,)), 1, 1),
    )
    energy.assign(DEFAULT_TENANT, Assignment(TargetKind.DEVICE, "meter", "flat", "import"))
    energy.put_settings(DEFAULT_TENANT, EnergySettings("GBP", "GB"))
    signals = TenantGridSignals(energy, store, FALLBACK, clock_ms=lambda: AT_MS)

    metered = Home("home", load_device_id="meter")
    assert signals.price_per_kwh(DEFAULT_TENANT, metered, AT_MS) == 0.25
    expected = CarbonLookup(energy).intensity_at(DEFAULT_TENANT, "GB", AT_MS, AT_MS)
    assert expected is not None
    assert signals.carbon_g_per_kwh(DEFAULT_TENANT, metered, AT_MS) == expected.value != 999.0

    # no meter, or another tenant's view of the same meter: the fallback table
    assert signals.price_per_kwh(DEFAULT_TENANT, Home("bare"), AT_MS) == 0.5
    assert signals.price_per_kwh("other", metered, AT_MS) == 0.5
    assert signals.carbon_g_per_kwh("other", metered, AT_MS) == 999.0
