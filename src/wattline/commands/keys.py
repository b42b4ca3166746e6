"""Each tenant's command keys (Ed25519), kept in the database beside the commands.

The database, not the data dir: every Wattline process that issues or sends
commands (``serve`` and ``collect`` on other machines) must sign with the same
key, and rotation must reach them all at once. The private key is read only
here; the API shows only public keys. Whoever can read the database can sign
commands, exactly as whoever can read it can already read every device's data:
protect its backups as you protect the CA's key file.

Rotation makes a new signing key and leaves the previous one valid for a grace
period, so commands signed just before it still verify on devices.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from wattline.commands.envelopes import ALGORITHM, key_id, public_key_text
from wattline.storage.command_schema import command_keys
from wattline.storage.sql.connections import Connections

_k = command_keys.c
# How long a process signs with the key it read before looking for a rotation made
# elsewhere: a query per command otherwise, and the old key verifies for the whole
# grace period anyway.
KEY_RECHECK_MS = 5_000


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class PublicKey:
    key_id: str
    public_key: str  # raw 32 bytes, base64
    created_ms: int
    valid_until_ms: int | None  # None: the key signing now
    algorithm: str = ALGORITHM


class SqlCommandKeys:
    def __init__(self, engine: Engine, clock_ms: Callable[[], int] = _now_ms) -> None:
        self._connections = Connections(engine)
        self._clock_ms = clock_ms
        # A signing key per tenant, read once: the PEM parse costs more than a signature.
        self._cache: dict[str, tuple[str, Ed25519PrivateKey]] = {}
        self._checked_ms: dict[str, int] = {}

    def signing_key(self, tenant_id: str) -> Ed25519PrivateKey:
        """The tenant's current key, made on first use; looked up again after
        KEY_RECHECK_MS, so a rotation by another process is used within that."""
        cached = self._cache.get(tenant_id)
        now = self._clock_ms()
        if cached is not None and now - self._checked_ms.get(tenant_id, 0) < KEY_RECHECK_MS:
            return cached[1]
        self._checked_ms[tenant_id] = now
        current = self._current(tenant_id)
        if current is None:
            self._create(tenant_id)
            current = self._current(tenant_id)
            assert current is not None
        kid, pem = current
        if cached is not None and cached[0] == kid:
            return cached[1]
        key = load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise TypeError(f"command key {kid} of {tenant_id!r} is not an Ed25519 key")
        self._cache[tenant_id] = (kid, key)
        return key

    def valid_signing_key(self, tenant_id: str, kid: str) -> Ed25519PrivateKey | None:
        """The tenant's key ``kid`` while devices still accept it (current or in its grace
        period); None after. Signs the rotation notice a device gets with the old key."""
        query = select(_k.private_key, _k.valid_until_ms).where(
            _k.tenant_id == tenant_id, _k.key_id == kid
        )
        with self._connections.read() as conn:
            row = conn.execute(query).first()
        if row is None or (
            row.valid_until_ms is not None and row.valid_until_ms <= self._clock_ms()
        ):
            return None
        key = load_pem_private_key(row.private_key.encode(), password=None)
        return key if isinstance(key, Ed25519PrivateKey) else None

    def public_keys(self, tenant_id: str) -> list[PublicKey]:
        """The keys a device should accept now: the signing key and those in their grace."""
        self.signing_key(tenant_id)
        now = self._clock_ms()
        query = (
            select(_k.key_id, _k.public_key, _k.created_ms, _k.valid_until_ms)
            .where(_k.tenant_id == tenant_id)
            .order_by(_k.created_ms.desc())
        )
        with self._connections.read() as conn:
            rows = conn.execute(query).all()
        return [
            PublicKey(row.key_id, row.public_key, row.created_ms, row.valid_until_ms)
            for row in rows
            if row.valid_until_ms is None or row.valid_until_ms > now
        ]

    def rotate(self, tenant_id: str, grace_ms: int) -> PublicKey:
        """A new signing key; the previous one verifies for ``grace_ms`` more."""
        if grace_ms < 0:
            raise ValueError("the grace period cannot be negative")
        self.signing_key(tenant_id)
        now = self._clock_ms()
        with self._connections.write() as conn:
            conn.execute(
                update(command_keys)
                .where(_k.tenant_id == tenant_id, _k.valid_until_ms.is_(None))
                .values(valid_until_ms=now + grace_ms)
            )
            new = _insert_new(conn, tenant_id, now)
        self._cache.pop(tenant_id, None)
        return new

    def _current(self, tenant_id: str) -> tuple[str, str] | None:
        query = (
            select(_k.key_id, _k.private_key)
            .where(_k.tenant_id == tenant_id, _k.valid_until_ms.is_(None))
            .order_by(_k.created_ms.desc())
            .limit(1)
        )
        with self._connections.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else (row.key_id, row.private_key)

    def _create(self, tenant_id: str) -> None:
        try:
            with self._connections.write() as conn:
                _insert_new(conn, tenant_id, self._clock_ms())
        except IntegrityError:
            return  # another process made one at the same instant: use it


def _insert_new(conn: Connection, tenant_id: str, now_ms: int) -> PublicKey:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    public = PublicKey(key_id(key.public_key()), public_key_text(key.public_key()), now_ms, None)
    conn.execute(
        insert(command_keys).values(
            tenant_id=tenant_id,
            key_id=public.key_id,
            private_key=pem,
            public_key=public.public_key,
            created_ms=now_ms,
            valid_until_ms=None,
        )
    )
    return public
