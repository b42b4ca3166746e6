"""The configuration twin in SQL (``device_configs``), scoped to a tenant."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, and_, insert, or_, select, update

from wattline.commands.twin import Twin
from wattline.storage import schema
from wattline.storage.command_schema import device_configs
from wattline.storage.sql.connections import Connections

_t = device_configs.c


class SqlTwinStore:
    def __init__(self, engine: Engine) -> None:
        self._connections = Connections(engine)

    def get(self, tenant_id: str, device_id: str) -> Twin | None:
        query = select(device_configs).where(_t.tenant_id == tenant_id, _t.device_id == device_id)
        with self._connections.read() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _twin(row)

    def put_desired(
        self, tenant_id: str, device_id: str, desired: Mapping[str, Any], now_ms: int
    ) -> Twin:
        """A new desired configuration, one version up."""
        text = json.dumps(dict(desired), separators=(",", ":"))
        with self._connections.write() as conn:
            version = conn.scalar(
                select(_t.desired_version).where(
                    _t.tenant_id == tenant_id, _t.device_id == device_id
                )
            )
            if version is None:
                conn.execute(
                    insert(device_configs).values(
                        device_id=device_id,
                        tenant_id=tenant_id,
                        desired=text,
                        desired_version=1,
                        desired_ms=now_ms,
                    )
                )
            else:
                conn.execute(
                    update(device_configs)
                    .where(_t.tenant_id == tenant_id, _t.device_id == device_id)
                    .values(desired=text, desired_version=version + 1, desired_ms=now_ms)
                )
        twin = self.get(tenant_id, device_id)
        assert twin is not None
        return twin

    def report(self, device_id: str, version: int, applied: Mapping[str, Any], now_ms: int) -> bool:
        """What the device says it applied; False when it has no twin."""
        with self._connections.write() as conn:
            return bool(
                conn.execute(
                    update(device_configs)
                    .where(_t.device_id == device_id)
                    .values(
                        reported=json.dumps(dict(applied), separators=(",", ":")),
                        reported_version=version,
                        reported_ms=now_ms,
                    )
                ).rowcount
            )

    def mark_sent(self, twin: Twin, now_ms: int) -> None:
        with self._connections.write() as conn:
            conn.execute(
                update(device_configs)
                .where(_t.device_id == twin.device_id)
                .values(sent_version=twin.desired_version, sent_ms=now_ms)
            )

    def resend_on_reconnect(self, device_ids: Sequence[str]) -> None:
        """The devices are back: send their delta again unless they applied it."""
        with self._connections.write() as conn:
            conn.execute(
                update(device_configs)
                .where(
                    _t.device_id.in_(list(device_ids)),
                    or_(_t.reported_version.is_(None), _t.reported_version != _t.desired_version),
                )
                .values(sent_version=None)
            )

    def unsent(self, limit: int) -> list[Twin]:
        """Twins whose current desired version has not gone to a device not offline."""
        d = schema.devices.c
        query = (
            select(device_configs)
            .join(schema.devices, d.device_id == _t.device_id)
            .where(
                or_(_t.sent_version.is_(None), _t.sent_version != _t.desired_version),
                or_(
                    _t.reported_version.is_(None),
                    and_(_t.reported_version != _t.desired_version),
                ),
                d.state != "offline",
            )
            .limit(limit)
        )
        with self._connections.read() as conn:
            return [_twin(row) for row in conn.execute(query).mappings()]


def _twin(row: Any) -> Twin:
    return Twin(
        device_id=row["device_id"],
        tenant_id=row["tenant_id"],
        desired=json.loads(row["desired"]),
        desired_version=row["desired_version"],
        desired_ms=row["desired_ms"],
        reported=json.loads(row["reported"]) if row["reported"] is not None else None,
        reported_version=row["reported_version"],
        reported_ms=row["reported_ms"],
        sent_version=row["sent_version"],
        sent_ms=row["sent_ms"],
    )
