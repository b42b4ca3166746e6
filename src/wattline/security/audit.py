"""The audit trail: what changed, who did it, from where; each entry chained to the last.

An entry's hash covers its fields and the previous entry's hash, so editing or
deleting any entry breaks every hash after it. Pure: storing and reading the
chain is the store's job (`AuditStore`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

# The hash the first entry chains to.
GENESIS_HASH = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One change, as a caller reports it (the store adds seq, time and hashes)."""

    action: str  # e.g. "login", "login_failed", "device.create", "api_key.revoke"
    actor: str  # principal display, or "anonymous"
    object: str  # e.g. "device:plug-1", "user:ana@example.org"
    tenant_id: str | None = None
    source: str | None = None  # the client's address
    # a before/after summary; never a secret
    summary: Mapping[str, Any] = field(default_factory=dict)


def entry_hash(  # noqa: PLR0913, PLR0917 - every field of an entry is hashed
    prev_hash: str,
    seq: int,
    ts_ms: int,
    tenant_id: str | None,
    actor: str,
    source: str | None,
    action: str,
    obj: str,
    summary_json: str,
) -> str:
    """SHA-256 over the previous hash and the entry's fields, in a fixed encoding."""
    encoded = orjson.dumps(
        [prev_hash, seq, ts_ms, tenant_id, actor, source, action, obj, summary_json]
    )
    return hashlib.sha256(encoded).hexdigest()


class AuditSink(Protocol):
    """Where changes are recorded; the API and the CLI hand every change to one."""

    def record(self, event: AuditEvent) -> None: ...


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One stored entry: the event as recorded, its place in the chain and its hash."""

    seq: int
    ts_ms: int
    tenant_id: str | None
    actor: str
    source: str | None
    action: str
    object: str
    summary_json: str  # exactly the text that was hashed
    prev_hash: str
    hash: str

    @property
    def summary(self) -> Any:
        return orjson.loads(self.summary_json)


def summary_json(summary: Mapping[str, Any]) -> str:
    """The one encoding of a summary: sorted keys, so equal summaries hash equally."""
    return orjson.dumps(
        dict(summary), option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
    ).decode()


def hash_of(entry: AuditEntry) -> str:
    """What ``entry.hash`` must be, given its content and ``prev_hash``."""
    return entry_hash(
        entry.prev_hash,
        entry.seq,
        entry.ts_ms,
        entry.tenant_id,
        entry.actor,
        entry.source,
        entry.action,
        entry.object,
        entry.summary_json,
    )


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of walking the chain from the first entry."""

    entries: int  # entries checked, up to and including a broken one
    head_seq: int  # the last intact entry's seq; 0 for an empty log
    head_hash: str  # its hash: keep it elsewhere to detect removal of the newest entries
    broken_seq: int | None = None
    reason: str | None = None

    @property
    def intact(self) -> bool:
        return self.broken_seq is None


class ChainWalker:
    """Checks entries handed to it in seq order; stops at the first that breaks the chain."""

    def __init__(self) -> None:
        self._count = 0
        self._seq = 0
        self._hash = GENESIS_HASH
        self._broken: tuple[int, str] | None = None

    def check(self, entry: AuditEntry) -> bool:
        """True while the chain holds; False from the first broken entry on."""
        if self._broken is not None:
            return False
        self._count += 1
        expected_seq = self._seq + 1
        if entry.seq < expected_seq:
            self._broken = (entry.seq, f"seq {entry.seq} was never assigned (inserted?)")
        elif entry.seq > expected_seq:
            last_missing = entry.seq - 1
            what = (
                f"entry {expected_seq} is"
                if last_missing == expected_seq
                else f"entries {expected_seq}-{last_missing} are"
            )
            self._broken = (expected_seq, f"{what} missing (deleted?)")
        elif entry.prev_hash != self._hash:
            self._broken = (entry.seq, "its prev_hash does not match the entry before it")
        elif hash_of(entry) != entry.hash:
            self._broken = (entry.seq, "its content does not match its hash (edited?)")
        else:
            self._seq, self._hash = entry.seq, entry.hash
            return True
        return False

    def report(self) -> ChainReport:
        broken_seq, reason = self._broken if self._broken is not None else (None, None)
        return ChainReport(self._count, self._seq, self._hash, broken_seq, reason)
