"""The devices table: the registry's own operations, and the device updates a commit makes.

A commit registers devices on first contact (auto-registration), records
hellos and status reports and moves last-seen, all in its own transaction;
those statements live here beside the registry they change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import BindParameter, Connection, bindparam, case, select, update

from wattline.model.devices import Device
from wattline.model.messages import ConnectionState, Hello, StatusReport
from wattline.storage import schema
from wattline.storage.device_removal import DEVICE_TABLES, delete_device_rows, iter_device_rows
from wattline.storage.keyset import DeviceFilter, device_page_query
from wattline.storage.sql.connections import Connections, InsertFactory

# SQLAlchemy reads cursor.rowcount of an INSERT only on request; psycopg's
# cursor no longer knows it once the result is closed (it answers -1), while
# SQLite's still does. Asking explicitly gives the same count on every dialect.
_COUNT_ROWS = {"preserve_rowcount": True}


class SqlRegistry:
    def __init__(self, connections: Connections, insert: InsertFactory) -> None:
        self._connections = connections
        self._insert = insert

    def existing_devices(self, device_ids: Iterable[str]) -> set[str]:
        wanted = list(device_ids)
        if not wanted:
            return set()
        column = schema.devices.c.device_id
        with self._connections.read() as conn:
            return set(conn.scalars(select(column).where(column.in_(wanted))))

    def register_device(
        self,
        device_id: str,
        device_type: str | None,
        now_ms: int,
        tags: Sequence[str] | None = None,
    ) -> tuple[Device, bool]:
        """Create the device; an existing one keeps its data, and gets the tags if given."""
        with self._connections.write() as conn:
            created = conn.execute(
                self._insert(schema.devices)
                .on_conflict_do_nothing()
                .values(
                    device_id=device_id,
                    device_type=device_type,
                    registered_ms=now_ms,
                    tags=json.dumps(sorted(set(tags or ()))),
                )
                .execution_options(**_COUNT_ROWS)
            ).rowcount
            if not created and tags is not None:
                conn.execute(
                    update(schema.devices)
                    .where(schema.devices.c.device_id == device_id)
                    .values(tags=json.dumps(sorted(set(tags))))
                )
        device = self.get_device(device_id)
        assert device is not None
        return device, bool(created)

    def list_devices(self) -> list[Device]:
        with self._connections.read() as conn:
            rows = conn.execute(select(schema.devices).order_by(schema.devices.c.device_id))
            return [_device(row) for row in rows.mappings()]

    def device_page(
        self, after: str | None, limit: int, where: DeviceFilter | None = None
    ) -> list[Device]:
        """Up to ``limit`` devices with an id after ``after``, in id order (a keyset page)."""
        with self._connections.read() as conn:
            query = device_page_query(after, limit, where or DeviceFilter())
            return [_device(row) for row in conn.execute(query).mappings()]

    def get_device(self, device_id: str) -> Device | None:
        with self._connections.read() as conn:
            row = (
                conn.execute(select(schema.devices).where(schema.devices.c.device_id == device_id))
                .mappings()
                .first()
            )
        return _device(row) if row else None

    def delete_device(self, device_id: str) -> dict[str, int]:
        """Remove the device and everything stored about it, in one transaction."""
        with self._connections.write() as conn:
            return delete_device_rows(conn, device_id)

    def device_rows(self, table_name: str, device_id: str) -> Iterator[list[dict[str, object]]]:
        """Pages of the device's rows in one of DEVICE_TABLES (for archiving before a delete)."""
        table = next(t for t in DEVICE_TABLES if t.name == table_name)
        with self._connections.read() as conn:
            yield from iter_device_rows(conn, table, device_id)

    # -- within a commit's transaction -------------------------------------------

    def add_on_first_contact(
        self, conn: Connection, device_ids: Sequence[str], seen_ms: dict[str, int]
    ) -> None:
        """Register devices admitted by auto-registration; one registered meanwhile stays."""
        if device_ids:
            conn.execute(
                self._insert(schema.devices).on_conflict_do_nothing(),
                [{"device_id": d, "registered_ms": seen_ms.get(d, 0)} for d in device_ids],
            )


def apply_hellos(conn: Connection, hellos: Sequence[Hello]) -> None:
    for hello in hellos:
        conn.execute(
            update(schema.devices)
            .where(schema.devices.c.device_id == hello.device_id)
            .values(
                device_type=hello.device_type,
                firmware_version=hello.firmware_version,
                capabilities=json.dumps(list(hello.capabilities)),
            )
        )


def apply_statuses(conn: Connection, statuses: Sequence[StatusReport]) -> None:
    devices = schema.devices.c
    for status in statuses:
        conn.execute(
            update(schema.devices)
            .where(devices.device_id == status.device_id)
            # Retained and redelivered status messages arrive out of order.
            .where((devices.state_ms.is_(None)) | (devices.state_ms <= status.ts_ms))
            .values(state=status.state.value, state_ms=status.ts_ms)
        )


def touch_last_seen(conn: Connection, seen_ms: dict[str, int]) -> None:
    if not seen_ms:
        return
    last_seen = schema.devices.c.last_seen_ms
    newer: BindParameter[int] = bindparam("seen_ms")
    statement = (
        update(schema.devices)
        .where(schema.devices.c.device_id == bindparam("dev_id"))
        .values(
            last_seen_ms=case(
                (last_seen.is_(None), newer), (last_seen < newer, newer), else_=last_seen
            )
        )
    )
    conn.execute(statement, [{"dev_id": d, "seen_ms": ms} for d, ms in seen_ms.items()])


def _device(row: Any) -> Device:
    return Device(
        device_id=row["device_id"],
        device_type=row["device_type"],
        firmware_version=row["firmware_version"],
        capabilities=tuple(json.loads(row["capabilities"] or "[]")),
        registered_ms=row["registered_ms"],
        last_seen_ms=row["last_seen_ms"],
        state=ConnectionState(row["state"]),
        state_ms=row["state_ms"],
        tags=tuple(json.loads(row["tags"] or "[]")),
    )
