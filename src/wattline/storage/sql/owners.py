"""Which tenant owns each device, with its type and tags: what the live stream filters on."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, select

from wattline.storage import schema
from wattline.storage.sql.connections import Connections

# Ids per IN (...) list: well below SQLite's 32,766 bound parameters.
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class DeviceOwner:
    tenant_id: str
    device_type: str | None
    tags: tuple[str, ...]


class SqlDeviceOwners:
    def __init__(self, engine: Engine) -> None:
        self._connections = Connections(engine)

    def owners(self, device_ids: Iterable[str]) -> dict[str, DeviceOwner]:
        """The owner of each registered device among ``device_ids``; unknown ids are absent."""
        wanted = sorted(set(device_ids))
        d = schema.devices.c
        found: dict[str, DeviceOwner] = {}
        with self._connections.read() as conn:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                query = select(d.device_id, d.tenant_id, d.device_type, d.tags).where(
                    d.device_id.in_(chunk)
                )
                for row in conn.execute(query):
                    tags = tuple(json.loads(row.tags or "[]"))
                    found[row.device_id] = DeviceOwner(row.tenant_id, row.device_type, tags)
        return found
