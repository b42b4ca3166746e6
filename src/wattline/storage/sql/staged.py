"""The ``staged`` table: which rows a fold takes, and a refused row moved to quarantine."""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from typing import NamedTuple

from sqlalchemy import ColumnElement, Connection, delete, func, select

from wattline.model.messages import RejectReason
from wattline.storage import schema
from wattline.storage.base import QuarantineEntry
from wattline.storage.sql.quarantine import SqlQuarantine

_s = schema.staged.c


class TakenRow(NamedTuple):
    id: int
    device_id: str
    received_ms: int | None
    events: bytes


def any_staged(conn: Connection, staged_by_ms: int) -> bool:
    """Whether some row was staged by ``staged_by_ms``."""
    query = select(_s.id).where(_s.staged_ms <= staged_by_ms).limit(1)
    return conn.execute(query).first() is not None


def oldest_devices(conn: Connection, max_devices: int, staged_by_ms: int | None) -> list[str]:
    """The devices whose first staged row is oldest, at most ``max_devices``, and only
    those with a row staged by ``staged_by_ms`` (None: any)."""
    first = func.min(_s.id).label("first")
    query = select(_s.device_id, first).group_by(_s.device_id).order_by(first).limit(max_devices)
    if staged_by_ms is not None:
        query = query.having(func.min(_s.staged_ms) <= staged_by_ms)
    return [device_id for device_id, _ in conn.execute(query)]


def take_oldest(conn: Connection, max_devices: int, staged_by_ms: int | None) -> list[TakenRow]:
    """Delete and return every staged row of the devices staged longest ago (``oldest_devices``),
    oldest first.

    On PostgreSQL rows another collector's fold holds are skipped, not waited for.
    """
    devices = oldest_devices(conn, max_devices, staged_by_ms)
    if not devices:
        return []
    ids = conn.scalars(
        select(_s.id)
        .where(_s.device_id.in_(devices))
        .order_by(_s.id)
        .with_for_update(skip_locked=True)
    ).all()
    return take_ids(conn, ids)


def take_devices(conn: Connection, devices: Collection[str]) -> list[TakenRow]:
    """Delete and return every staged row of these devices, oldest first.

    Waits for rows another transaction holds (on PostgreSQL, a fold in progress),
    which then are gone: a device's staged rows are folded before its later events.
    """
    if not devices:
        return []
    return _deleted(conn, _s.device_id.in_(list(devices)))


def oldest_ids(conn: Connection, max_devices: int) -> list[int]:
    """The ids of the rows ``take_oldest`` would take now, oldest first."""
    devices = oldest_devices(conn, max_devices, None)
    if not devices:
        return []
    query = select(_s.id).where(_s.device_id.in_(devices)).order_by(_s.id)
    return list(conn.scalars(query))


def take_ids(conn: Connection, ids: Sequence[int]) -> list[TakenRow]:
    """Delete and return these staged rows (those still there), oldest first."""
    if not ids:
        return []
    return _deleted(conn, _s.id.in_(list(ids)))


def _deleted(conn: Connection, where: ColumnElement[bool]) -> list[TakenRow]:
    """Delete the staged rows ``where`` selects; return them, oldest first."""
    taken = conn.execute(
        delete(schema.staged).where(where).returning(_s.id, _s.device_id, _s.received_ms, _s.events)
    )
    return sorted((TakenRow(*row) for row in taken), key=lambda row: row.id)


def quarantine_row(conn: Connection, row_id: int, detail: str, quarantine: SqlQuarantine) -> None:
    """Move a staged row the store refuses to fold into the quarantine, its bytes as they are."""
    for row in take_ids(conn, [row_id]):
        received_ms = row.received_ms
        if received_ms is None:
            received_ms = time.time_ns() // 1_000_000
        quarantine.add(
            conn,
            [
                QuarantineEntry(
                    received_ms=received_ms,
                    topic=f"staged/{row.device_id}",
                    reason=RejectReason.STORE_REJECTED.value,
                    detail=detail,
                    payload=row.events,
                )
            ],
        )
