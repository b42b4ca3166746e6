"""Which tariff prices a device, and its price at an instant.

A device's own assignment wins over a tag's (its tags in alphabetical order),
a tag's over the tenant's. This is the look-up for every consumer that acts on
the current price (costs, forecasts, recommendations).
"""

from __future__ import annotations

from dataclasses import dataclass

from wattline.analytics.tariff_json import tariff_from_json
from wattline.analytics.tariffs import Price, Tariff, price_at
from wattline.model.devices import Device
from wattline.storage.energy_data import Assignment, TargetKind, TariffStore


@dataclass(frozen=True, slots=True)
class DeviceTariff:
    tariff: Tariff
    direction: str  # import, or export (its energy is fed in)


def assignment_for(device: Device, assignments: list[Assignment]) -> Assignment | None:
    """The assignment that applies to the device, by the precedence above."""
    by_key = {(a.target_kind, a.target): a for a in assignments}
    found = by_key.get((TargetKind.DEVICE, device.device_id))
    for tag in sorted(device.tags):
        found = found or by_key.get((TargetKind.TAG, tag))
    return found or by_key.get((TargetKind.TENANT, ""))


class TariffLookup:
    def __init__(self, store: TariffStore) -> None:
        self._store = store

    def tariffs_for(self, tenant_id: str, devices: list[Device]) -> dict[str, DeviceTariff | None]:
        """Each device's tariff, reading the tenant's assignments and tariffs once."""
        assignments = self._store.assignments(tenant_id)
        stored = {t.tariff_id: t for t in self._store.tariffs(tenant_id)}
        parsed: dict[str, Tariff] = {}
        found: dict[str, DeviceTariff | None] = {}
        for device in devices:
            assignment = assignment_for(device, assignments)
            row = stored.get(assignment.tariff_id) if assignment is not None else None
            if assignment is None or row is None:
                found[device.device_id] = None
                continue
            if row.tariff_id not in parsed:
                parsed[row.tariff_id] = tariff_from_json(
                    row.tariff_id, row.name, row.tz, row.versions_json
                )
            found[device.device_id] = DeviceTariff(parsed[row.tariff_id], assignment.direction)
        return found

    def price_at(
        self, tenant_id: str, device: Device, ts_ms: int, month_kwh: float = 0.0
    ) -> Price | None:
        """The device's price at ``ts_ms``; None without a tariff or a version then."""
        found = self.tariffs_for(tenant_id, [device])[device.device_id]
        return price_at(found.tariff, ts_ms, month_kwh) if found is not None else None
