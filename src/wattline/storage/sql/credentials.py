"""The device_credentials table: each credential's metadata and its secret's SHA-256."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from wattline.security.device_credentials import CredentialKind, DeviceCredential
from wattline.storage import identity_schema as ids
from wattline.storage.sql.connections import Connections

_table = ids.device_credentials


class SqlCredentials:
    def __init__(self, connections: Connections) -> None:
        self._connections = connections

    def add(self, credential: DeviceCredential, secret_hash: str | None) -> None:
        with self._connections.write() as conn:
            conn.execute(
                _table.insert().values(
                    credential_id=credential.credential_id,
                    device_id=credential.device_id,
                    tenant_id=credential.tenant_id,
                    kind=credential.kind.value,
                    username=credential.username,
                    secret_hash=secret_hash,
                    created_ms=credential.created_ms,
                    expires_ms=credential.expires_ms,
                    revoked_ms=credential.revoked_ms,
                    certificate_serial=credential.certificate_serial,
                )
            )

    def of_device(self, device_id: str) -> list[DeviceCredential]:
        query = (
            select(_table)
            .where(_table.c.device_id == device_id)
            .order_by(_table.c.created_ms, _table.c.credential_id)
        )
        with self._connections.read() as conn:
            return [_credential(row) for row in conn.execute(query)]

    def revoke(self, device_id: str, credential_id: str, now_ms: int) -> bool:
        """False when the device has no such credential, or it was revoked already."""
        statement = (
            update(_table)
            .where(
                _table.c.credential_id == credential_id,
                _table.c.device_id == device_id,
                _table.c.revoked_ms.is_(None),
            )
            .values(revoked_ms=now_ms)
        )
        with self._connections.write() as conn:
            return conn.execute(statement).rowcount == 1

    def revoked_certificates(self) -> list[tuple[str, int]]:
        """Every revoked certificate's serial and revocation time, of every tenant: the CRL."""
        query = (
            select(_table.c.certificate_serial, _table.c.revoked_ms)
            .where(
                _table.c.kind == CredentialKind.CERTIFICATE.value,
                _table.c.revoked_ms.is_not(None),
                _table.c.certificate_serial.is_not(None),
            )
            .order_by(_table.c.revoked_ms)
        )
        with self._connections.read() as conn:
            return [(row.certificate_serial, row.revoked_ms) for row in conn.execute(query)]

    def nearest_certificate_expiry_ms(self) -> int | None:
        """When the first unrevoked device certificate expires (or expired), of every
        tenant: for the operator's certificate-expiry alert; None without any."""
        query = select(func.min(_table.c.expires_ms)).where(
            _table.c.kind == CredentialKind.CERTIFICATE.value,
            _table.c.revoked_ms.is_(None),
            _table.c.expires_ms.is_not(None),
        )
        with self._connections.read() as conn:
            found = conn.execute(query).scalar()
        return None if found is None else int(found)

    def for_secret(self, secret_hash: str) -> DeviceCredential | None:
        query = select(_table).where(_table.c.secret_hash == secret_hash)
        with self._connections.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else _credential(row)


def _credential(row: Any) -> DeviceCredential:
    return DeviceCredential(
        credential_id=row.credential_id,
        device_id=row.device_id,
        tenant_id=row.tenant_id,
        kind=CredentialKind(row.kind),
        username=row.username,
        created_ms=row.created_ms,
        expires_ms=row.expires_ms,
        revoked_ms=row.revoked_ms,
        certificate_serial=row.certificate_serial,
    )
