"""A home's grid price and carbon intensity from the tenant's own tariffs and grid data.

The recommendation engine asks for the price and intensity of each of the next
24 hours (``analytics.recommendations.GridSignals``). Here the price is the
tariff of the home's load meter (its device, tag or tenant assignment) and the
intensity is the tenant's carbon zone (stored values, else the bundled table).
A home without a meter, a tariff or a zone is advised with ``fallback``, and
says so by the figures it stores with each decision.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from wattline.analytics.recommendations import GridSignals
from wattline.analytics.tariffs import price_at
from wattline.grid.sources import CarbonLookup
from wattline.grid.tariff_lookup import DeviceTariff, TariffLookup
from wattline.model.decisions import Home
from wattline.model.devices import Device
from wattline.storage.energy_data import GridStore, TariffStore


class EnergyStore(TariffStore, GridStore, Protocol):
    """Tariffs, settings and fetched grid values (``storage/sql/energy.py``)."""


class DeviceLookup(Protocol):
    def get_device(self, device_id: str, *, tenant_id: str) -> Device | None: ...


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


# A decision asks for 24 hours in a row: the meter's tariff and the tenant's zone
# are read once per this long, not once per hour asked.
_MEMO_MS = 60_000


class TenantGridSignals:
    def __init__(
        self,
        energy: EnergyStore,
        devices: DeviceLookup,
        fallback: GridSignals,
        clock_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self._energy = energy
        self._tariffs = TariffLookup(energy)
        self._carbon = CarbonLookup(energy)
        self._devices = devices
        self._fallback = fallback
        self._clock_ms = clock_ms
        # (tenant, meter) -> (read at, its tariff); tenant -> (read at, its zone)
        self._meter_tariffs: dict[tuple[str, str], tuple[int, DeviceTariff | None]] = {}
        self._zones: dict[str, tuple[int, str | None]] = {}

    def price_per_kwh(self, tenant_id: str, home: Home, at_ms: int) -> float:
        found = self._meter_tariff(tenant_id, home.load_device_id)
        price = price_at(found.tariff, at_ms, 0.0) if found is not None else None
        if price is None:
            return self._fallback.price_per_kwh(tenant_id, home, at_ms)
        return price.import_per_kwh

    def carbon_g_per_kwh(self, tenant_id: str, home: Home, at_ms: int) -> float:
        zone = self._zone(tenant_id)
        found = (
            self._carbon.intensity_at(tenant_id, zone, at_ms, self._clock_ms())
            if zone is not None
            else None
        )
        if found is None:
            return self._fallback.carbon_g_per_kwh(tenant_id, home, at_ms)
        return found.value

    def _meter_tariff(self, tenant_id: str, meter_id: str | None) -> DeviceTariff | None:
        if meter_id is None:
            return None
        now = self._clock_ms()
        memo = self._meter_tariffs.get((tenant_id, meter_id))
        if memo is not None and now - memo[0] < _MEMO_MS:
            return memo[1]
        meter = self._devices.get_device(meter_id, tenant_id=tenant_id)
        found = self._tariffs.tariffs_for(tenant_id, [meter])[meter_id] if meter else None
        self._meter_tariffs[(tenant_id, meter_id)] = (now, found)
        return found

    def _zone(self, tenant_id: str) -> str | None:
        now = self._clock_ms()
        memo = self._zones.get(tenant_id)
        if memo is not None and now - memo[0] < _MEMO_MS:
            return memo[1]
        zone = self._energy.settings(tenant_id).carbon_zone
        self._zones[tenant_id] = (now, zone)
        return zone
