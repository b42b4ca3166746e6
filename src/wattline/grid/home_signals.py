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
from wattline.grid.sources import CarbonLookup
from wattline.grid.tariff_lookup import TariffLookup
from wattline.model.decisions import Home
from wattline.model.devices import Device
from wattline.storage.energy_data import GridStore, TariffStore


class EnergyStore(TariffStore, GridStore, Protocol):
    """Tariffs, settings and fetched grid values (``storage/sql/energy.py``)."""


class DeviceLookup(Protocol):
    def get_device(self, device_id: str, *, tenant_id: str) -> Device | None: ...


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


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

    def price_per_kwh(self, tenant_id: str, home: Home, at_ms: int) -> float:
        meter = (
            self._devices.get_device(home.load_device_id, tenant_id=tenant_id)
            if home.load_device_id is not None
            else None
        )
        price = self._tariffs.price_at(tenant_id, meter, at_ms) if meter is not None else None
        if price is None:
            return self._fallback.price_per_kwh(tenant_id, home, at_ms)
        return price.import_per_kwh

    def carbon_g_per_kwh(self, tenant_id: str, home: Home, at_ms: int) -> float:
        zone = self._energy.settings(tenant_id).carbon_zone
        found = (
            self._carbon.intensity_at(tenant_id, zone, at_ms, self._clock_ms())
            if zone is not None
            else None
        )
        if found is None:
            return self._fallback.carbon_g_per_kwh(tenant_id, home, at_ms)
        return found.value
