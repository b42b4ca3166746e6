"""What the tariff and grid-data stores keep, and their ports.

Every call names the tenant it acts for and the SQL filters by it: another
tenant's tariff is not there (None), as one that does not exist.
A tariff's versions are kept as the JSON document ``analytics.tariffs``
reads and writes (``tariff_from_json``); the store does not look inside.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class TargetKind(StrEnum):
    DEVICE = "device"
    TAG = "tag"
    TENANT = "tenant"  # target "": every device of the tenant


class ValueSource(StrEnum):
    """Where a grid figure came from, shown beside every value."""

    LIVE = "live"  # fetched from the provider for this hour
    CACHED = "cached"  # fetched earlier and read back from the store
    FALLBACK = "fallback"  # the bundled table or a clear-sky model: the provider was not reached


@dataclass(frozen=True, slots=True)
class StoredTariff:
    tariff_id: str
    name: str
    tz: str
    versions_json: str
    created_ms: int
    updated_ms: int


@dataclass(frozen=True, slots=True)
class Assignment:
    target_kind: TargetKind
    target: str
    tariff_id: str
    direction: str  # import or export


@dataclass(frozen=True, slots=True)
class EnergySettings:
    currency: str
    carbon_zone: str | None = None
    latitude_deg: float | None = None
    longitude_deg: float | None = None


DEFAULT_SETTINGS = EnergySettings(currency="EUR")


@dataclass(frozen=True, slots=True)
class GridValue:
    series: str
    ts_ms: int
    value: float
    source: ValueSource
    provider: str
    fetched_ms: int


class TariffStore(Protocol):
    """Tariffs, what they price, and the tenant's currency and location."""

    def put_tariff(self, tenant_id: str, tariff: StoredTariff) -> bool:
        """Create or replace; True when it was created."""
        ...

    def tariff(self, tenant_id: str, tariff_id: str) -> StoredTariff | None: ...

    def tariffs(self, tenant_id: str) -> list[StoredTariff]: ...

    def delete_tariff(self, tenant_id: str, tariff_id: str) -> bool:
        """Delete the tariff and its assignments; False when there was none."""
        ...

    def assign(self, tenant_id: str, assignment: Assignment) -> None: ...

    def unassign(self, tenant_id: str, target_kind: TargetKind, target: str) -> bool: ...

    def assignments(self, tenant_id: str) -> list[Assignment]: ...

    def settings(self, tenant_id: str) -> EnergySettings:
        """The tenant's settings; ``DEFAULT_SETTINGS`` until set."""
        ...

    def put_settings(self, tenant_id: str, settings: EnergySettings) -> None: ...

    def settings_of_all(self) -> dict[str, EnergySettings]:
        """Every tenant that set its settings (the grid fetcher's work list)."""
        ...


class PvSystemStore(Protocol):
    """Each PV inverter's array, as the JSON ``analytics.solar`` fields (``api/routers/solar``)."""

    def put_pv_system(self, tenant_id: str, device_id: str, config_json: str) -> None: ...

    def pv_system(self, tenant_id: str, device_id: str) -> str | None: ...

    def pv_system_devices(self, tenant_id: str) -> list[str]:
        """The tenant's devices that have a PV system, in id order."""
        ...


class GridStore(Protocol):
    """Hourly grid figures per tenant, each with its source."""

    def put_grid_values(self, tenant_id: str, values: Sequence[GridValue]) -> None:
        """Insert or replace by (series, ts_ms); a fallback never replaces a live value."""
        ...

    def grid_values(
        self, tenant_id: str, series: str, start_ms: int, end_ms: int
    ) -> list[GridValue]:
        """Values with start_ms <= ts_ms < end_ms, in time order."""
        ...
