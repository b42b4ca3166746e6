"""Tariffs, assignments, energy settings and grid values in SQL (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, and_, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from wattline.storage.energy_data import (
    DEFAULT_SETTINGS,
    Assignment,
    EnergySettings,
    GridValue,
    StoredTariff,
    TargetKind,
    ValueSource,
)
from wattline.storage.energy_schema import (
    energy_settings,
    grid_values,
    pv_systems,
    tariff_assignments,
    tariffs,
)
from wattline.storage.sql.connections import Connections, InsertFactory


def dialect_insert(engine: Engine) -> InsertFactory:
    """The dialect's INSERT, which has ON CONFLICT."""
    return postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert


class SqlEnergyData:
    """``TariffStore`` and ``GridStore`` on the store's engine."""

    def __init__(self, engine: Engine) -> None:
        self._connections = Connections(engine)
        self._insert = dialect_insert(engine)

    # -- tariffs ------------------------------------------------------------

    def put_tariff(self, tenant_id: str, tariff: StoredTariff) -> bool:
        t = tariffs.c
        key = and_(t.tenant_id == tenant_id, t.tariff_id == tariff.tariff_id)
        values = {"name": tariff.name, "tz": tariff.tz, "versions": tariff.versions_json}
        with self._connections.write() as conn:
            created = conn.scalar(select(t.created_ms).where(key))
            if created is None:
                conn.execute(
                    tariffs.insert().values(
                        tenant_id=tenant_id,
                        tariff_id=tariff.tariff_id,
                        created_ms=tariff.created_ms,
                        updated_ms=tariff.updated_ms,
                        **values,
                    )
                )
                return True
            conn.execute(tariffs.update().where(key).values(updated_ms=tariff.updated_ms, **values))
        return False

    def tariff(self, tenant_id: str, tariff_id: str) -> StoredTariff | None:
        t = tariffs.c
        query = select(tariffs).where(t.tenant_id == tenant_id, t.tariff_id == tariff_id)
        with self._connections.read() as conn:
            row = conn.execute(query).first()
        return _tariff(row) if row is not None else None

    def tariffs(self, tenant_id: str) -> list[StoredTariff]:
        t = tariffs.c
        query = select(tariffs).where(t.tenant_id == tenant_id).order_by(t.tariff_id)
        with self._connections.read() as conn:
            return [_tariff(row) for row in conn.execute(query)]

    def delete_tariff(self, tenant_id: str, tariff_id: str) -> bool:
        t, a = tariffs.c, tariff_assignments.c
        with self._connections.write() as conn:
            conn.execute(
                delete(tariff_assignments).where(a.tenant_id == tenant_id, a.tariff_id == tariff_id)
            )
            removed = conn.execute(
                delete(tariffs).where(t.tenant_id == tenant_id, t.tariff_id == tariff_id)
            )
            return bool(removed.rowcount)

    def assign(self, tenant_id: str, assignment: Assignment) -> None:
        values = {"tariff_id": assignment.tariff_id, "direction": assignment.direction}
        with self._connections.write() as conn:
            conn.execute(
                self._insert(tariff_assignments)
                .values(
                    tenant_id=tenant_id,
                    target_kind=assignment.target_kind.value,
                    target=assignment.target,
                    **values,
                )
                .on_conflict_do_update(
                    index_elements=["tenant_id", "target_kind", "target"], set_=values
                )
            )

    def unassign(self, tenant_id: str, target_kind: TargetKind, target: str) -> bool:
        a = tariff_assignments.c
        with self._connections.write() as conn:
            removed = conn.execute(
                delete(tariff_assignments).where(
                    a.tenant_id == tenant_id, a.target_kind == target_kind.value, a.target == target
                )
            )
            return bool(removed.rowcount)

    def assignments(self, tenant_id: str) -> list[Assignment]:
        a = tariff_assignments.c
        query = (
            select(tariff_assignments)
            .where(a.tenant_id == tenant_id)
            .order_by(a.target_kind, a.target)
        )
        with self._connections.read() as conn:
            return [
                Assignment(TargetKind(row.target_kind), row.target, row.tariff_id, row.direction)
                for row in conn.execute(query)
            ]

    # -- settings -----------------------------------------------------------

    def settings(self, tenant_id: str) -> EnergySettings:
        s = energy_settings.c
        with self._connections.read() as conn:
            row = conn.execute(select(energy_settings).where(s.tenant_id == tenant_id)).first()
        return _settings(row) if row is not None else DEFAULT_SETTINGS

    def put_settings(self, tenant_id: str, settings: EnergySettings) -> None:
        values = {
            "currency": settings.currency,
            "carbon_zone": settings.carbon_zone,
            "latitude_deg": settings.latitude_deg,
            "longitude_deg": settings.longitude_deg,
        }
        with self._connections.write() as conn:
            conn.execute(
                self._insert(energy_settings)
                .values(tenant_id=tenant_id, **values)
                .on_conflict_do_update(index_elements=["tenant_id"], set_=values)
            )

    def settings_of_all(self) -> dict[str, EnergySettings]:
        with self._connections.read() as conn:
            rows = conn.execute(select(energy_settings).order_by(energy_settings.c.tenant_id))
            return {row.tenant_id: _settings(row) for row in rows}

    # -- PV systems ---------------------------------------------------------

    def put_pv_system(self, tenant_id: str, device_id: str, config_json: str) -> None:
        with self._connections.write() as conn:
            conn.execute(
                self._insert(pv_systems)
                .values(tenant_id=tenant_id, device_id=device_id, config=config_json)
                .on_conflict_do_update(
                    index_elements=["tenant_id", "device_id"], set_={"config": config_json}
                )
            )

    def pv_system(self, tenant_id: str, device_id: str) -> str | None:
        p = pv_systems.c
        query = select(p.config).where(p.tenant_id == tenant_id, p.device_id == device_id)
        with self._connections.read() as conn:
            found = conn.scalar(query)
        return str(found) if found is not None else None

    def pv_system_devices(self, tenant_id: str) -> list[str]:
        p = pv_systems.c
        query = select(p.device_id).where(p.tenant_id == tenant_id).order_by(p.device_id)
        with self._connections.read() as conn:
            return [str(row) for row in conn.scalars(query)]

    # -- grid values --------------------------------------------------------

    def put_grid_values(self, tenant_id: str, values: Sequence[GridValue]) -> None:
        if not values:
            return
        g = grid_values.c
        rows = [
            {
                "tenant_id": tenant_id,
                "series": v.series,
                "ts_ms": v.ts_ms,
                "value": v.value,
                "source": v.source.value,
                "provider": v.provider,
                "fetched_ms": v.fetched_ms,
            }
            for v in values
        ]
        statement = self._insert(grid_values)
        excluded = statement.excluded
        upsert = statement.on_conflict_do_update(
            index_elements=["tenant_id", "series", "ts_ms"],
            set_={
                "value": excluded.value,
                "source": excluded.source,
                "provider": excluded.provider,
                "fetched_ms": excluded.fetched_ms,
            },
            # a fallback guess never overwrites a measured value
            where=(excluded.source != ValueSource.FALLBACK.value)
            | (g.source == ValueSource.FALLBACK.value),
        )
        with self._connections.write() as conn:
            conn.execute(upsert, rows)

    def grid_values(
        self, tenant_id: str, series: str, start_ms: int, end_ms: int
    ) -> list[GridValue]:
        g = grid_values.c
        query = (
            select(grid_values)
            .where(
                g.tenant_id == tenant_id,
                g.series == series,
                g.ts_ms >= start_ms,
                g.ts_ms < end_ms,
            )
            .order_by(g.ts_ms)
        )
        with self._connections.read() as conn:
            return [
                GridValue(
                    row.series,
                    row.ts_ms,
                    row.value,
                    ValueSource(row.source),
                    row.provider,
                    row.fetched_ms,
                )
                for row in conn.execute(query)
            ]


def _tariff(row: Any) -> StoredTariff:
    return StoredTariff(
        row.tariff_id, row.name, row.tz, row.versions, row.created_ms, row.updated_ms
    )


def _settings(row: Any) -> EnergySettings:
    return EnergySettings(row.currency, row.carbon_zone, row.latitude_deg, row.longitude_deg)
