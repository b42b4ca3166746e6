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
