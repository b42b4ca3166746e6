"""The audit log in SQL: one hash chain, appended one entry per short transaction.

Appenders are serialised so that every entry chains to the one committed
before it, however many threads or API processes append at once:

- PostgreSQL: a transaction-scoped advisory lock, taken before the last entry
  is read and released by the commit;
- SQLite: the database's one write lock, taken by a no-op write as the
  transaction's first statement (a plain SELECT would run outside the
  transaction and race the next appender).

``seq`` is assigned under that lock (the last seq plus one) rather than by the
column's autoincrement, because the hash covers it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from sqlalchemy import Connection, Engine, Row, func, select, update

from wattline.security.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditEvent,
    ChainReport,
    ChainWalker,
    entry_hash,
    summary_json,
)
from wattline.storage.identity_schema import audit_log
from wattline.storage.sql.connections import Connections

# Any fixed 64-bit number; "WLAUDIT" in ASCII, distinct from the migration lock's key.
_APPEND_LOCK_KEY = 0x574C_4155_4449_54
# Rows fetched per round trip while verifying: the whole log is never held in memory.
_VERIFY_CHUNK = 1_000


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class SqlAuditStore:
    """The ``AuditStore`` port on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine, clock_ms: Callable[[], int] = _now_ms) -> None:
        self._connections = Connections(engine)
        self._clock_ms = clock_ms

    def append(self, event: AuditEvent) -> AuditEntry:
        text = summary_json(event.summary)
        with self._connections.write() as conn:
            _lock_chain(conn)
            last = conn.execute(
                select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
            ).first()
            seq, prev_hash = (last.seq + 1, last.hash) if last is not None else (1, GENESIS_HASH)
            ts_ms = self._clock_ms()
            digest = entry_hash(
                prev_hash,
                seq,
                ts_ms,
                event.tenant_id,
                event.actor,
                event.source,
                event.action,
                event.object,
                text,
            )
            entry = AuditEntry(
                seq=seq,
                ts_ms=ts_ms,
                tenant_id=event.tenant_id,
                actor=event.actor,
                source=event.source,
                action=event.action,
                object=event.object,
                summary_json=text,
                prev_hash=prev_hash,
                hash=digest,
            )
            conn.execute(audit_log.insert().values(_row_of(entry)))
        return entry

    def audit_page(
        self, tenant_id: str, before_seq: int | None, limit: int, action: str | None = None
    ) -> list[AuditEntry]:
        """The tenant's entries, newest first, starting below ``before_seq``."""
        c = audit_log.c
        query = select(audit_log).where(c.tenant_id == tenant_id).order_by(c.seq.desc())
        if before_seq is not None:
            query = query.where(c.seq < before_seq)
        if action is not None:
            query = query.where(c.action == action)
        with self._connections.read() as conn:
            return [_entry_of(row) for row in conn.execute(query.limit(limit))]

    def verify(self) -> ChainReport:
        """Walks every entry from the first; the report names the first broken one."""
        walker = ChainWalker()
        for entry in self._all_entries():
            if not walker.check(entry):
                break
        return walker.report()

    def _all_entries(self) -> Iterator[AuditEntry]:
        after = 0
        while True:
            query = (
                select(audit_log)
                .where(audit_log.c.seq > after)
                .order_by(audit_log.c.seq)
                .limit(_VERIFY_CHUNK)
            )
            with self._connections.read() as conn:
                rows = [_entry_of(row) for row in conn.execute(query)]
            yield from rows
            if len(rows) < _VERIFY_CHUNK:
                return
            after = rows[-1].seq


def _lock_chain(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_APPEND_LOCK_KEY)))
    else:
        # Changes nothing, but a write statement takes SQLite's write lock (waiting
        # up to busy_timeout), so the read below sees the last committed entry.
        conn.execute(update(audit_log).where(audit_log.c.seq < 0).values(seq=audit_log.c.seq))


def _row_of(entry: AuditEntry) -> dict[str, object]:
    return {
        "seq": entry.seq,
        "tenant_id": entry.tenant_id,
        "ts_ms": entry.ts_ms,
        "actor": entry.actor,
        "source": entry.source,
        "action": entry.action,
        "object": entry.object,
        "summary": entry.summary_json,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


def _entry_of(row: Row[tuple[object, ...]]) -> AuditEntry:
    m = row._mapping  # noqa: SLF001 - SQLAlchemy's public accessor for a row as a mapping
    return AuditEntry(
        seq=m["seq"],
        ts_ms=m["ts_ms"],
        tenant_id=m["tenant_id"],
        actor=m["actor"],
        source=m["source"],
        action=m["action"],
        object=m["object"],
        summary_json=m["summary"],
        prev_hash=m["prev_hash"],
        hash=m["hash"],
    )
