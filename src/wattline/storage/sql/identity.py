"""Tenants, users, memberships, invitations, sessions and API keys on SQLAlchemy Core.

Implements ``security.identity_store.IdentityStore``. Every check-then-change
(a refresh token's rotation, a TOTP step, a recovery code, an invitation) is
one conditional UPDATE whose row count says who won, so two requests racing
with the same secret cannot both succeed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, exists, or_, select, update
from sqlalchemy.exc import IntegrityError

from wattline.security.identity_store import (
    ApiKey,
    IdentityConflictError,
    Invitation,
    Membership,
    RefreshToken,
    Rotation,
    RotationOutcome,
    Tenant,
    User,
)
from wattline.security.roles import Role
from wattline.storage import identity_schema as ids
from wattline.storage.sql.connections import Connections, InsertFactory

_u = ids.users.c
_m = ids.memberships.c
_r = ids.refresh_tokens.c
_k = ids.api_keys.c
_i = ids.invitations.c


class SqlIdentity:
    def __init__(self, connections: Connections, insert: InsertFactory) -> None:
        self._connections = connections
        self._insert = insert

    # -- tenants ----------------------------------------------------------------

    def ensure_tenant(self, tenant_id: str, name: str, now_ms: int) -> Tenant:
        with self._connections.write() as conn:
            conn.execute(
                self._insert(ids.tenants)
                .values(tenant_id=tenant_id, name=name, created_ms=now_ms)
                .on_conflict_do_nothing(index_elements=["tenant_id"])
            )
            row = (
                conn.execute(select(ids.tenants).where(ids.tenants.c.tenant_id == tenant_id))
                .mappings()
                .one()
            )
        return Tenant(**row)

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        with self._connections.read() as conn:
            row = (
                conn.execute(select(ids.tenants).where(ids.tenants.c.tenant_id == tenant_id))
                .mappings()
                .first()
            )
        return Tenant(**row) if row else None

    # -- users --------------------------------------------------------------------

    def add_user(self, user: User) -> None:
        values = {
            "user_id": user.user_id,
            "email": user.email,
            "display_name": user.display_name,
            "password_hash": user.password_hash,
            "password_changed_ms": user.password_changed_ms,
            "created_ms": user.created_ms,
            "disabled_ms": user.disabled_ms,
        }
        try:
            with self._connections.write() as conn:
                conn.execute(ids.users.insert().values(values))
        except IntegrityError as exc:
            raise IdentityConflictError(f"a user with email {user.email!r} exists") from exc

    def user_by_email(self, email: str) -> User | None:
        return self._user(_u.email == email)

    def user_by_id(self, user_id: str) -> User | None:
        return self._user(_u.user_id == user_id)

    def _user(self, where: Any) -> User | None:
        with self._connections.read() as conn:
            row = conn.execute(select(ids.users).where(where)).mappings().first()
        if row is None:
            return None
        values = dict(row)
        values["totp_enabled"] = bool(values["totp_enabled"])
        values["recovery_codes"] = tuple(orjson.loads(values["recovery_codes"]))
        return User(**values)

    def set_password_hash(self, user_id: str, password_hash: str, changed_ms: int | None) -> None:
        values: dict[str, Any] = {"password_hash": password_hash}
        if changed_ms is not None:
            values["password_changed_ms"] = changed_ms
        with self._connections.write() as conn:
            conn.execute(update(ids.users).where(_u.user_id == user_id).values(values))

    def set_totp(
        self, user_id: str, secret: str | None, enabled: bool, recovery_hashes: Sequence[str]
    ) -> None:
        with self._connections.write() as conn:
            conn.execute(
                update(ids.users)
                .where(_u.user_id == user_id)
                .values(
                    totp_secret=secret,
                    totp_enabled=int(enabled),
                    totp_last_step=None,
                    recovery_codes=orjson.dumps(list(recovery_hashes)).decode(),
                )
            )

    def use_totp_step(self, user_id: str, step: int) -> bool:
        with self._connections.write() as conn:
            result = conn.execute(
                update(ids.users)
                .where(
                    _u.user_id == user_id,
                    or_(_u.totp_last_step.is_(None), _u.totp_last_step < step),
                )
                .values(totp_last_step=step)
            )
        return result.rowcount == 1

    def use_recovery_code(self, user_id: str, code_hash: str) -> bool:
        with self._connections.write() as conn:
            stored = conn.scalar(select(_u.recovery_codes).where(_u.user_id == user_id))
            if stored is None:
                return False
            codes: list[str] = orjson.loads(stored)
            if code_hash not in codes:
                return False
            codes.remove(code_hash)
            # Conditional on the list read: of two requests with one code, one wins.
            result = conn.execute(
                update(ids.users)
                .where(_u.user_id == user_id, _u.recovery_codes == stored)
                .values(recovery_codes=orjson.dumps(codes).decode())
            )
        return result.rowcount == 1

    # -- memberships --------------------------------------------------------------

    def add_membership(self, user_id: str, tenant_id: str, role: Role, now_ms: int) -> None:
        try:
            with self._connections.write() as conn:
                conn.execute(
                    ids.memberships.insert().values(
                        user_id=user_id, tenant_id=tenant_id, role=role.value, created_ms=now_ms
                    )
                )
        except IntegrityError as exc:
            raise IdentityConflictError("the user is a member of this tenant already") from exc

    def _members(self, *where: Any) -> list[Membership]:
        query = (
            select(_m.user_id, _m.tenant_id, _m.role, _u.email, _u.display_name, _m.created_ms)
            .join(ids.users, _u.user_id == _m.user_id)
            .where(*where)
            .order_by(_m.created_ms, _m.tenant_id, _u.email)
        )
        with self._connections.read() as conn:
            rows = conn.execute(query).mappings().all()
        return [Membership(**{**row, "role": Role(row["role"])}) for row in rows]

    def membership(self, user_id: str, tenant_id: str) -> Membership | None:
        found = self._members(_m.user_id == user_id, _m.tenant_id == tenant_id)
        return found[0] if found else None

    def memberships_of(self, user_id: str) -> list[Membership]:
        return self._members(_m.user_id == user_id)

    def members(self, tenant_id: str) -> list[Membership]:
        return self._members(_m.tenant_id == tenant_id)

    def set_role(self, user_id: str, tenant_id: str, role: Role) -> bool:
        with self._connections.write() as conn:
            result = conn.execute(
                update(ids.memberships)
                .where(_m.user_id == user_id, _m.tenant_id == tenant_id)
                .values(role=role.value)
            )
        return result.rowcount == 1

    def remove_membership(self, user_id: str, tenant_id: str) -> bool:
        with self._connections.write() as conn:
            result = conn.execute(
                delete(ids.memberships).where(_m.user_id == user_id, _m.tenant_id == tenant_id)
            )
        return result.rowcount == 1

    def session_member(
        self, user_id: str, tenant_id: str, family_id: str, now_ms: int
    ) -> Membership | None:
        live_session = exists().where(
            _r.family_id == family_id,
            _r.user_id == user_id,
            _r.revoked_ms.is_(None),
            _r.replaced_ms.is_(None),
            _r.expires_ms > now_ms,
        )
        found = self._members(
            _m.user_id == user_id,
            _m.tenant_id == tenant_id,
            _u.disabled_ms.is_(None),
            live_session,
        )
        return found[0] if found else None

    # -- invitations ----------------------------------------------------------------

    def add_invitation(self, invitation: Invitation) -> None:
        with self._connections.write() as conn:
            conn.execute(
                ids.invitations.insert().values(
                    token_hash=invitation.token_hash,
                    tenant_id=invitation.tenant_id,
                    email=invitation.email,
                    role=invitation.role.value,
                    invited_by=invitation.invited_by,
                    created_ms=invitation.created_ms,
                    expires_ms=invitation.expires_ms,
                )
            )

    def invitation_email(self, token_hash: str, now_ms: int) -> str | None:
        with self._connections.read() as conn:
            email: str | None = conn.scalar(
                select(_i.email).where(
                    _i.token_hash == token_hash, _i.accepted_ms.is_(None), _i.expires_ms > now_ms
                )
            )
        return email

    def take_invitation(self, token_hash: str, now_ms: int) -> Invitation | None:
        with self._connections.write() as conn:
            taken = conn.execute(
                update(ids.invitations)
                .where(
                    _i.token_hash == token_hash, _i.accepted_ms.is_(None), _i.expires_ms > now_ms
                )
                .values(accepted_ms=now_ms)
            )
            if taken.rowcount != 1:
                return None
            row = (
                conn.execute(select(ids.invitations).where(_i.token_hash == token_hash))
                .mappings()
                .one()
            )
        return Invitation(**{**row, "role": Role(row["role"])})

    # -- refresh tokens -------------------------------------------------------------

    def add_refresh_token(self, token: RefreshToken) -> None:
        with self._connections.write() as conn:
            conn.execute(ids.refresh_tokens.insert().values(_refresh_values(token)))

    def refresh_token(self, token_hash: str) -> RefreshToken | None:
        with self._connections.read() as conn:
            row = (
                conn.execute(select(ids.refresh_tokens).where(_r.token_hash == token_hash))
                .mappings()
                .first()
            )
        return RefreshToken(**row) if row else None

    def rotate_refresh_token(
        self, token_hash: str, successor: RefreshToken, now_ms: int
    ) -> Rotation:
        with self._connections.write() as conn:
            row = (
                conn.execute(
                    select(ids.refresh_tokens).where(_r.token_hash == token_hash).with_for_update()
                )
                .mappings()
                .first()
            )
            if row is None:
                return Rotation(RotationOutcome.INVALID)
            previous = RefreshToken(**row)
            if previous.replaced_ms is not None:
                _revoke(conn, _r.family_id == previous.family_id, now_ms)
                return Rotation(RotationOutcome.REUSED, previous)
            if previous.revoked_ms is not None or previous.expires_ms <= now_ms:
                return Rotation(RotationOutcome.INVALID, previous)
            replaced = conn.execute(
                update(ids.refresh_tokens)
                .where(_r.token_hash == token_hash, _r.replaced_ms.is_(None))
                .values(replaced_ms=now_ms)
            )
            if replaced.rowcount != 1:  # another request rotated it first: reuse
                _revoke(conn, _r.family_id == previous.family_id, now_ms)
                return Rotation(RotationOutcome.REUSED, previous)
            conn.execute(ids.refresh_tokens.insert().values(_refresh_values(successor)))
        return Rotation(RotationOutcome.ROTATED, previous)

    def revoke_family(self, family_id: str, now_ms: int) -> int:
        with self._connections.write() as conn:
            return _revoke(conn, _r.family_id == family_id, now_ms)

    def revoke_user_sessions(self, user_id: str, now_ms: int, keep_family: str | None) -> int:
        where = _r.user_id == user_id
        if keep_family is not None:
            where = and_(where, _r.family_id != keep_family)
        with self._connections.write() as conn:
            return _revoke(conn, where, now_ms)

    # -- API keys ---------------------------------------------------------------------

    def add_api_key(self, key: ApiKey, key_hash: str) -> None:
        with self._connections.write() as conn:
            conn.execute(
                ids.api_keys.insert().values(
                    key_id=key.key_id,
                    tenant_id=key.tenant_id,
                    name=key.name,
                    prefix=key.prefix,
                    key_hash=key_hash,
                    role=key.role.value,
                    created_by=key.created_by,
                    created_ms=key.created_ms,
                    expires_ms=key.expires_ms,
                )
            )

    def _keys(self, *where: Any) -> list[ApiKey]:
        columns = [c for c in ids.api_keys.c if c.name != "key_hash"]
        with self._connections.read() as conn:
            query = select(*columns).where(*where).order_by(_k.created_ms, _k.key_id)
            rows = conn.execute(query).mappings().all()
        return [ApiKey(**{**row, "role": Role(row["role"])}) for row in rows]

    def api_key_by_hash(self, key_hash: str) -> ApiKey | None:
        found = self._keys(_k.key_hash == key_hash)
        return found[0] if found else None

    def api_keys(self, tenant_id: str) -> list[ApiKey]:
        return self._keys(_k.tenant_id == tenant_id)

    def revoke_api_key(self, tenant_id: str, key_id: str, now_ms: int) -> bool:
        with self._connections.write() as conn:
            result = conn.execute(
                update(ids.api_keys)
                .where(_k.tenant_id == tenant_id, _k.key_id == key_id, _k.revoked_ms.is_(None))
                .values(revoked_ms=now_ms)
            )
        return result.rowcount == 1

    def touch_api_key(self, key_id: str, now_ms: int) -> None:
        with self._connections.write() as conn:
            conn.execute(
                update(ids.api_keys)
                .where(
                    _k.key_id == key_id,
                    or_(_k.last_used_ms.is_(None), _k.last_used_ms < now_ms),
                )
                .values(last_used_ms=now_ms)
            )


def _refresh_values(token: RefreshToken) -> dict[str, Any]:
    return {
        "token_hash": token.token_hash,
        "family_id": token.family_id,
        "user_id": token.user_id,
        "tenant_id": token.tenant_id,
        "issued_ms": token.issued_ms,
        "expires_ms": token.expires_ms,
    }


def _revoke(conn: Connection, where: Any, now_ms: int) -> int:
    result = conn.execute(
        update(ids.refresh_tokens).where(where, _r.revoked_ms.is_(None)).values(revoked_ms=now_ms)
    )
    return int(result.rowcount)
