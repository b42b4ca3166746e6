"""The device_names table: one display name per device, read and written per tenant."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, delete, insert, select

from wattline.storage.device_name_schema import device_names
from wattline.storage.sql.connections import Connections


class SqlDeviceNames:
    def __init__(self, engine: Engine) -> None:
        self._connections = Connections(engine)

    def set_name(self, device_id: str, name: str, now_ms: int, *, tenant_id: str) -> None:
        """Name the device for ``tenant_id``; a name another tenant gave it is replaced
        (the device has moved: a pairing claim)."""
        with self._connections.write() as conn:
            conn.execute(delete(device_names).where(device_names.c.device_id == device_id))
            conn.execute(
                insert(device_names).values(
                    device_id=device_id, tenant_id=tenant_id, name=name, updated_ms=now_ms
                )
            )

    def names(self, device_ids: Iterable[str], *, tenant_id: str) -> dict[str, str]:
        """The names ``tenant_id`` gave these devices; unnamed ones are left out."""
        wanted = list(dict.fromkeys(device_ids))
        if not wanted:
            return {}
        with self._connections.read() as conn:
            rows = conn.execute(
                select(device_names.c.device_id, device_names.c.name).where(
                    device_names.c.tenant_id == tenant_id, device_names.c.device_id.in_(wanted)
                )
            )
            return {row.device_id: row.name for row in rows}
