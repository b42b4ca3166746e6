"""The pairing_codes table, and the claim that moves a device into a tenant."""

from __future__ import annotations

from sqlalchemy import Connection, delete, select, update

from wattline.security.pairing import PairingClaim
from wattline.storage import identity_schema as ids
from wattline.storage import schema
from wattline.storage.sql.connections import Connections

_codes = ids.pairing_codes


class SqlPairing:
    def __init__(self, connections: Connections) -> None:
        self._connections = connections

    def add(self, code_hash: str, device_id: str, created_ms: int, expires_ms: int) -> None:
        with self._connections.write() as conn:
            conn.execute(
                _codes.insert().values(
                    code_hash=code_hash,
                    device_id=device_id,
                    created_ms=created_ms,
                    expires_ms=expires_ms,
                )
            )

    def claim(
        self, code_hash: str, *, tenant_id: str, claimed_by: str, unclaimed_tenant: str, now_ms: int
    ) -> tuple[PairingClaim, str | None]:
        """Spend the code and move its device from ``unclaimed_tenant`` into ``tenant_id``.

        Answers the outcome and the code's device (None when UNKNOWN).

        One transaction: a code is spent only when the device moved, so a code of a
        device owned elsewhere stays unspent (and the answer says OWNED).
        """
        live = (
            _codes.c.code_hash == code_hash,
            _codes.c.claimed_ms.is_(None),
            _codes.c.expires_ms > now_ms,
        )
        with self._connections.write() as conn:
            # Spent first: the update locks the row, so of two concurrent claims one wins.
            spent = conn.execute(
                update(_codes).where(*live).values(claimed_ms=now_ms, claimed_by=claimed_by)
            ).rowcount
            if spent != 1:
                return PairingClaim.UNKNOWN, None
            device_id = conn.execute(
                select(_codes.c.device_id).where(_codes.c.code_hash == code_hash)
            ).scalar_one()
            if not _move(conn, device_id, unclaimed_tenant, tenant_id):
                conn.execute(
                    update(_codes)
                    .where(_codes.c.code_hash == code_hash)
                    .values(claimed_ms=None, claimed_by=None)
                )
                return PairingClaim.OWNED, device_id
            # The device's other codes die with the claim.
            conn.execute(
                delete(_codes).where(_codes.c.device_id == device_id, _codes.c.claimed_ms.is_(None))
            )
            return PairingClaim.CLAIMED, device_id


def _move(conn: Connection, device_id: str, from_tenant: str, to_tenant: str) -> bool:
    """The device and its credentials change tenant; its shares (granted by the old owner) go."""
    moved = conn.execute(
        update(schema.devices)
        .where(schema.devices.c.device_id == device_id, schema.devices.c.tenant_id == from_tenant)
        .values(tenant_id=to_tenant)
    ).rowcount
    if moved != 1:
        return False
    conn.execute(
        update(ids.device_credentials)
        .where(ids.device_credentials.c.device_id == device_id)
        .values(tenant_id=to_tenant)
    )
    conn.execute(delete(ids.device_shares).where(ids.device_shares.c.device_id == device_id))
    return True
