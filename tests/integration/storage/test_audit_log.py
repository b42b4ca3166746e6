"""The audit log's hash chain on SQLite and PostgreSQL: appends, pages, tampering, concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import delete, update

from wattline.security.audit import GENESIS_HASH, AuditEvent
from wattline.storage.identity_schema import audit_log
from wattline.storage.sql import SqlStore
from wattline.storage.sql.audit import SqlAuditStore


def _event(n: int, tenant: str = "t1", action: str = "device.create") -> AuditEvent:
    return AuditEvent(
        action=action,
        actor="ana@example.org",
        object=f"device:d{n}",
        tenant_id=tenant,
        source="192.0.2.7",
        summary={"after": {"tags": [f"t{n}"]}},
    )


def test_entries_chain_from_genesis(store: SqlStore) -> None:
    audit = SqlAuditStore(store.engine, clock_ms=lambda: 1_000)
    first = audit.append(_event(1))
    second = audit.append(_event(2))
    assert (first.seq, first.prev_hash) == (1, GENESIS_HASH)
    assert (second.seq, second.prev_hash) == (2, first.hash)
    assert second.summary == {"after": {"tags": ["t2"]}}
    report = audit.verify()
    assert report.intact
    assert (report.entries, report.head_seq, report.head_hash) == (2, 2, second.hash)


def test_an_empty_log_verifies(store: SqlStore) -> None:
    report = SqlAuditStore(store.engine).verify()
    assert report.intact
    assert (report.entries, report.head_seq, report.head_hash) == (0, 0, GENESIS_HASH)


def test_pages_are_per_tenant_newest_first(store: SqlStore) -> None:
    audit = SqlAuditStore(store.engine)
    for n in range(1, 8):
        audit.append(_event(n, tenant="t1" if n % 2 else "t2", action=f"a{n % 3}"))
    assert [e.seq for e in audit.audit_page("t1", None, 10)] == [7, 5, 3, 1]
    assert [e.seq for e in audit.audit_page("t1", None, 2)] == [7, 5]
    assert [e.seq for e in audit.audit_page("t1", 5, 2)] == [3, 1]
    assert [e.seq for e in audit.audit_page("t2", None, 10)] == [6, 4, 2]
    assert [e.seq for e in audit.audit_page("t1", None, 10, action="a1")] == [7, 1]
    assert audit.audit_page("nobody", None, 10) == []


def test_an_edited_summary_breaks_the_chain_at_that_entry(store: SqlStore) -> None:
    audit = SqlAuditStore(store.engine)
    for n in range(1, 6):
        audit.append(_event(n))
    with store.engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 3).values(summary='{"after":{}}'))
    report = audit.verify()
    assert (report.broken_seq, report.head_seq, report.entries) == (3, 2, 3)
    assert report.reason is not None
    assert "does not match its hash" in report.reason


def test_a_deleted_entry_is_reported_missing(store: SqlStore) -> None:
    audit = SqlAuditStore(store.engine)
    for n in range(1, 6):
        audit.append(_event(n))
    with store.engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq == 3))
    report = audit.verify()
    assert (report.broken_seq, report.head_seq) == (3, 2)
    assert report.reason == "entry 3 is missing (deleted?)"


def test_a_rewritten_entry_with_a_fresh_hash_breaks_the_next_link(store: SqlStore) -> None:
    """Recomputing an edited entry's hash moves the break to the entry after it."""
    audit = SqlAuditStore(store.engine)
    entries = [audit.append(_event(n)) for n in range(1, 5)]
    forged = entries[1]
    from wattline.security.audit import entry_hash  # noqa: PLC0415 - only this test forges

    new_hash = entry_hash(
        forged.prev_hash, 2, forged.ts_ms, "t1", "mallory", forged.source, forged.action,
        forged.object, forged.summary_json,
    )  # fmt: skip
    with store.engine.begin() as conn:
        conn.execute(
            update(audit_log).where(audit_log.c.seq == 2).values(actor="mallory", hash=new_hash)
        )
    report = audit.verify()
    assert report.broken_seq == 3
    assert report.reason == "its prev_hash does not match the entry before it"


def test_concurrent_appenders_keep_one_unbroken_chain(store: SqlStore) -> None:
    """Threads appending at once, each through its own store object and connection."""
    appenders = [SqlAuditStore(store.engine) for _ in range(4)]

    def append_many(index: int) -> list[int]:
        return [appenders[index].append(_event(n)).seq for n in range(25)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        seqs = [seq for batch in pool.map(append_many, range(4)) for seq in batch]
    assert sorted(seqs) == list(range(1, 101))
    report = appenders[0].verify()
    assert report.intact, report
    assert (report.entries, report.head_seq) == (100, 100)
