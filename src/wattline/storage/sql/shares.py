"""Device shares: one device of a tenant made readable by one user of another.

Only the device's own tenant manages its shares, so every change names that
tenant and finds nothing for a device of another. Users are engineer-owned
rows of ``users``; this module only looks one up, by id or email.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, or_, select

from wattline.security.roles import Role
from wattline.storage import identity_schema, schema
from wattline.storage.sql.connections import Connections, InsertFactory
from wattline.storage.sql.registry import device_from_row
from wattline.storage.tenancy import DeviceShare, SharedDevice, UserRef

_shares = identity_schema.device_shares
_users = identity_schema.users


class SqlShares:
    def __init__(self, connections: Connections, insert: InsertFactory) -> None:
        self._connections = connections
        self._insert = insert

    def find_user(self, id_or_email: str) -> UserRef | None:
        """The user with this id, or this email (compared lower-cased, as stored)."""
        u = _users.c
        query = select(u.user_id, u.email).where(
            or_(u.user_id == id_or_email, u.email == id_or_email.strip().lower())
        )
        with self._connections.read() as conn:
            row = conn.execute(query).first()
        return UserRef(row.user_id, row.email) if row else None

    def share_device(  # noqa: PLR0913 - the share's fields
        self,
        device_id: str,
        *,
        tenant_id: str,
        user: UserRef,
        role: Role,
        shared_by: str,
        now_ms: int,
    ) -> DeviceShare | None:
        """Share the tenant's device with the user (a second share replaces the role);
        None when the tenant has no such device."""
        d = schema.devices.c
        with self._connections.write() as conn:
            owner = conn.scalar(select(d.tenant_id).where(d.device_id == device_id))
            if owner != tenant_id:
                return None
            values = {"role": role.value, "shared_by": shared_by, "created_ms": now_ms}
            conn.execute(
                self._insert(_shares)
                .values(device_id=device_id, user_id=user.user_id, **values)
                .on_conflict_do_update(index_elements=["device_id", "user_id"], set_=values)
            )
        return DeviceShare(device_id, user, role, shared_by, now_ms)

    def device_shares(self, device_id: str, *, tenant_id: str) -> list[DeviceShare] | None:
        """The device's shares by user email; None when the tenant has no such device."""
        s, u, d = _shares.c, _users.c, schema.devices.c
        query = (
            select(s.device_id, s.user_id, u.email, s.role, s.shared_by, s.created_ms)
            .join(_users, u.user_id == s.user_id)
            .join(schema.devices, d.device_id == s.device_id)
            .where(s.device_id == device_id, d.tenant_id == tenant_id)
            .order_by(u.email)
        )
        owned = select(func.count()).where(d.device_id == device_id, d.tenant_id == tenant_id)
        with self._connections.read() as conn:
            if not conn.scalar(owned):
                return None
            return [_share(row) for row in conn.execute(query)]

    def revoke_share(self, device_id: str, *, tenant_id: str, user_id: str) -> bool:
        """End the user's share of the tenant's device; False when there was none."""
        d = schema.devices.c
        owned = select(d.device_id).where(d.device_id == device_id, d.tenant_id == tenant_id)
        statement = delete(_shares).where(
            _shares.c.device_id.in_(owned), _shares.c.user_id == user_id
        )
        with self._connections.write() as conn:
            return bool(conn.execute(statement).rowcount)

    def shared_devices(self, user_id: str) -> list[SharedDevice]:
        """The devices shared with the user, in id order."""
        s, d = _shares.c, schema.devices.c
        query = (
            select(schema.devices, s.role.label("share_role"), s.created_ms.label("shared_ms"))
            .join(_shares, s.device_id == d.device_id)
            .where(s.user_id == user_id)
            .order_by(d.device_id)
        )
        with self._connections.read() as conn:
            return [
                SharedDevice(device_from_row(row), Role(row["share_role"]), row["shared_ms"])
                for row in conn.execute(query).mappings()
            ]


def _share(row: Any) -> DeviceShare:
    return DeviceShare(
        device_id=row.device_id,
        user=UserRef(row.user_id, row.email),
        role=Role(row.role),
        shared_by=row.shared_by,
        created_ms=row.created_ms,
    )
