"""The quarantine table: rejected messages, one row per distinct topic and bytes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, select

from wattline.storage import schema
from wattline.storage.base import QuarantineEntry, QuarantineRecord, quarantine_fingerprint
from wattline.storage.sql.connections import Connections, InsertFactory


class SqlQuarantine:
    def __init__(self, connections: Connections, insert: InsertFactory) -> None:
        self._connections = connections
        q = insert(schema.quarantine)
        # A redelivered or repeating message counts up its row instead of adding one.
        self._upsert = q.on_conflict_do_update(
            index_elements=["fingerprint"],
            set_={
                "occurrences": schema.quarantine.c.occurrences + 1,
                "last_received_ms": q.excluded.received_ms,
                "reason": q.excluded.reason,
                "detail": q.excluded.detail,
            },
        )

    def add(self, conn: Connection, entries: Sequence[QuarantineEntry]) -> None:
        """Within a commit's transaction."""
        if not entries:
            return
        conn.execute(
            self._upsert,
            [
                {
                    "received_ms": q.received_ms,
                    "topic": storable_text(q.topic),
                    "reason": q.reason,
                    "detail": storable_text(q.detail),
                    "payload": q.payload,
                    "fingerprint": quarantine_fingerprint(q.topic, q.payload),
                }
                for q in entries
            ],
        )

    @staticmethod
    def resolve(conn: Connection, ids: Sequence[int]) -> None:
        """Remove entries stored after all (a replay), within the commit that stores them."""
        if ids:
            conn.execute(delete(schema.quarantine).where(schema.quarantine.c.id.in_(list(ids))))

    def quarantine(
        self,
        limit: int,
        reason: str | None = None,
        ids: Sequence[int] | None = None,
        before_id: int | None = None,
    ) -> list[QuarantineRecord]:
        """Newest first; ``before_id`` (the last id of the previous page) starts a keyset page."""
        q = schema.quarantine.c
        query = select(schema.quarantine).order_by(q.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(q.id < before_id)
        if reason is not None:
            query = query.where(q.reason == reason)
        if ids is not None:
            query = query.where(q.id.in_(list(ids)))
        with self._connections.read() as conn:
            return [QuarantineRecord(**row) for row in conn.execute(query).mappings()]


def storable_text(text: str) -> str:
    """Text every database holds: PostgreSQL refuses NUL, and no driver encodes a lone
    surrogate. A quarantine row must never be what the database refuses."""
    return text.replace("\0", "\\0").encode("utf-8", "backslashreplace").decode("utf-8")
