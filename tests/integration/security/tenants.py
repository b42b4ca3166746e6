"""Principals of several tenants for the authorization tests, behind fixed bearer strings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import insert

from wattline.security.principal import Principal, PrincipalKind
from wattline.security.roles import Role
from wattline.storage import identity_schema
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore

ADMIN_TOKEN = "test-admin-token"
OTHER_TENANT = "t2"


def _user(subject: str, tenant_id: str, role: Role) -> Principal:
    return Principal(PrincipalKind.USER, subject, tenant_id, role, f"{subject}@example.org")


# bearer string -> who it stands for
PRINCIPALS: Mapping[str, Principal] = {
    "viewer-default": _user("u-viewer", DEFAULT_TENANT, Role.VIEWER),
    "operator-default": _user("u-operator", DEFAULT_TENANT, Role.OPERATOR),
    "owner-t2": _user("u-bob", OTHER_TENANT, Role.OWNER),
    "key-t2": Principal(PrincipalKind.API_KEY, "k-t2", OTHER_TENANT, Role.ADMIN, "wl_live_t2"),
}
BOB_EMAIL = "bob@t2.example"


@dataclass(frozen=True, slots=True)
class FixedTokens:
    """An Authenticator (security/authenticator.py) over a fixed table of bearer strings."""

    principals: Mapping[str, Principal]

    def authenticate(self, bearer: str, source: str | None) -> Principal | None:
        del source
        return self.principals.get(bearer)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def add_user(store: SqlStore, user_id: str, email: str) -> None:
    """A row of users as engineer A's sign-up writes it (only id and email matter here)."""
    with store.engine.begin() as conn:
        conn.execute(
            insert(identity_schema.users).values(
                user_id=user_id,
                email=email,
                password_hash="unused",
                password_changed_ms=0,
                created_ms=0,
            )
        )
