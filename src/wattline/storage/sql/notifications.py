"""Notification channels, deliveries with every attempt, and when each channel
last heard of each alert (its repeat interval)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import orjson
from sqlalchemy import func, insert, select, update

from wattline.model.alerts import Severity
from wattline.model.notifications import (
    Attempt,
    Channel,
    ChannelKind,
    Delivery,
    DeliveryStatus,
    Routing,
)
from wattline.storage import alert_schema
from wattline.storage.sql.connections import Connections, InsertFactory

_channels = alert_schema.alert_channels
_deliveries = alert_schema.alert_deliveries
_attempts = alert_schema.alert_delivery_attempts
_notified = alert_schema.alert_notified


def _channel_from_row(row: Any) -> Channel:
    definition = orjson.loads(row.definition)
    routing = definition.get("routing", {})
    routing["min_severity"] = Severity(routing.get("min_severity", "info"))
    routing["rule_ids"] = tuple(routing.get("rule_ids", ()))
    return Channel(
        channel_id=row.channel_id,
        tenant_id=row.tenant_id,
        name=row.name,
        kind=ChannelKind(row.kind),
        target=definition["target"],
        routing=Routing(**routing),
        secret=definition.get("secret"),
        allow_private=bool(definition.get("allow_private", False)),
        enabled=bool(row.enabled),
        created_ms=row.created_ms,
    )


def _delivery_from_row(row: Any) -> Delivery:
    return Delivery(
        delivery_id=row.delivery_id,
        tenant_id=row.tenant_id,
        channel_id=row.channel_id,
        alert_ids=tuple(orjson.loads(row.alert_ids)),
        payload=row.payload,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_ms=row.next_attempt_ms,
        last_error=row.last_error,
        created_ms=row.created_ms,
        updated_ms=row.updated_ms,
    )


class SqlNotifications:
    def __init__(self, connections: Connections, insert_factory: InsertFactory) -> None:
        self._connections = connections
        self._insert = insert_factory

    # -- channels ------------------------------------------------------------------

    def save_channel(self, channel: Channel) -> None:
        definition = {
            "target": channel.target,
            "routing": asdict(channel.routing),
            "secret": channel.secret,
            "allow_private": channel.allow_private,
        }
        values = {
            "tenant_id": channel.tenant_id,
            "name": channel.name,
            "kind": channel.kind.value,
            "definition": orjson.dumps(definition).decode(),
            "enabled": channel.enabled,
            "created_ms": channel.created_ms,
        }
        with self._connections.write() as conn:
            conn.execute(
                self._insert(_channels)
                .values(channel_id=channel.channel_id, **values)
                .on_conflict_do_update(index_elements=["channel_id"], set_=values)
            )

    def channels(self, *, tenant_id: str) -> list[Channel]:
        query = (
            select(_channels).where(_channels.c.tenant_id == tenant_id).order_by(_channels.c.name)
        )
        with self._connections.read() as conn:
            return [_channel_from_row(row) for row in conn.execute(query)]

    def get_channel(self, channel_id: str, *, tenant_id: str) -> Channel | None:
        with self._connections.read() as conn:
            row = conn.execute(
                select(_channels).where(
                    _channels.c.channel_id == channel_id, _channels.c.tenant_id == tenant_id
                )
            ).first()
        return _channel_from_row(row) if row else None

    def delete_channel(self, channel_id: str, *, tenant_id: str) -> bool:
        with self._connections.write() as conn:
            done = conn.execute(
                _channels.delete().where(
                    _channels.c.channel_id == channel_id, _channels.c.tenant_id == tenant_id
                )
            )
        return bool(done.rowcount)

    # -- deliveries ----------------------------------------------------------------

    def add_delivery(self, delivery: Delivery, *, notified_ms: int | None = None) -> None:
        """Queue the delivery; with ``notified_ms``, its alerts count as told to the channel."""
        with self._connections.write() as conn:
            conn.execute(
                insert(_deliveries).values(
                    delivery_id=delivery.delivery_id,
                    tenant_id=delivery.tenant_id,
                    channel_id=delivery.channel_id,
                    alert_ids=orjson.dumps(list(delivery.alert_ids)).decode(),
                    payload=delivery.payload,
                    status=delivery.status.value,
                    attempts=delivery.attempts,
                    next_attempt_ms=delivery.next_attempt_ms,
                    last_error=delivery.last_error,
                    created_ms=delivery.created_ms,
                    updated_ms=delivery.updated_ms,
                )
            )
            if notified_ms is None:
                return
            for alert_id in delivery.alert_ids:
                values = {"tenant_id": delivery.tenant_id, "notified_ms": notified_ms}
                conn.execute(
                    self._insert(_notified)
                    .values(channel_id=delivery.channel_id, alert_id=alert_id, **values)
                    .on_conflict_do_update(index_elements=["channel_id", "alert_id"], set_=values)
                )

    def last_notified(self, channel_id: str, alert_id: str) -> int | None:
        with self._connections.read() as conn:
            value = conn.scalar(
                select(_notified.c.notified_ms).where(
                    _notified.c.channel_id == channel_id, _notified.c.alert_id == alert_id
                )
            )
        return int(value) if value is not None else None

    def due_deliveries(self, now_ms: int, limit: int = 100) -> list[Delivery]:
        """Pending deliveries whose next attempt is due, oldest first (every tenant)."""
        d = _deliveries.c
        query = (
            select(_deliveries)
            .where(d.status == DeliveryStatus.PENDING.value, d.next_attempt_ms <= now_ms)
            .order_by(d.next_attempt_ms)
            .limit(limit)
        )
        with self._connections.read() as conn:
            return [_delivery_from_row(row) for row in conn.execute(query)]

    def next_due_ms(self) -> int | None:
        d = _deliveries.c
        with self._connections.read() as conn:
            value = conn.scalar(
                select(func.min(d.next_attempt_ms)).where(d.status == DeliveryStatus.PENDING.value)
            )
        return int(value) if value is not None else None

    def record_attempt(
        self, delivery: Delivery, attempt: Attempt, status: DeliveryStatus, next_attempt_ms: int
    ) -> None:
        with self._connections.write() as conn:
            conn.execute(
                insert(_attempts).values(
                    delivery_id=attempt.delivery_id,
                    attempt=attempt.attempt,
                    tenant_id=delivery.tenant_id,
                    ts_ms=attempt.ts_ms,
                    ok=attempt.ok,
                    detail=attempt.detail[:2000],
                )
            )
            conn.execute(
                update(_deliveries)
                .where(_deliveries.c.delivery_id == delivery.delivery_id)
                .values(
                    status=status.value,
                    attempts=attempt.attempt,
                    next_attempt_ms=next_attempt_ms,
                    last_error=None if attempt.ok else attempt.detail[:2000],
                    updated_ms=attempt.ts_ms,
                )
            )

    def deliveries(
        self, *, tenant_id: str, status: DeliveryStatus | None, limit: int
    ) -> list[Delivery]:
        d = _deliveries.c
        query = select(_deliveries).where(d.tenant_id == tenant_id)
        if status is not None:
            query = query.where(d.status == status.value)
        query = query.order_by(d.created_ms.desc(), d.delivery_id).limit(limit)
        with self._connections.read() as conn:
            return [_delivery_from_row(row) for row in conn.execute(query)]

    def attempts(self, delivery_id: str, *, tenant_id: str) -> list[Attempt]:
        a = _attempts.c
        query = (
            select(a.delivery_id, a.attempt, a.ts_ms, a.ok, a.detail)
            .where(a.delivery_id == delivery_id, a.tenant_id == tenant_id)
            .order_by(a.attempt)
        )
        with self._connections.read() as conn:
            return [
                Attempt(r.delivery_id, r.attempt, r.ts_ms, bool(r.ok), r.detail)
                for r in conn.execute(query)
            ]

    def get_delivery(self, delivery_id: str, *, tenant_id: str) -> Delivery | None:
        d = _deliveries.c
        with self._connections.read() as conn:
            row = conn.execute(
                select(_deliveries).where(d.delivery_id == delivery_id, d.tenant_id == tenant_id)
            ).first()
        return _delivery_from_row(row) if row else None

    def redeliver(self, delivery_id: str, *, tenant_id: str, now_ms: int) -> Delivery | None:
        """A dead (or delivered) delivery back to pending, due now; None when unknown."""
        d = _deliveries.c
        with self._connections.write() as conn:
            conn.execute(
                update(_deliveries)
                .where(d.delivery_id == delivery_id, d.tenant_id == tenant_id)
                .values(
                    status=DeliveryStatus.PENDING.value, next_attempt_ms=now_ms, updated_ms=now_ms
                )
            )
            row = conn.execute(
                select(_deliveries).where(d.delivery_id == delivery_id, d.tenant_id == tenant_id)
            ).first()
        return _delivery_from_row(row) if row else None
