"""The port the account use cases keep their state through, and the records it returns.

It lives beside its consumer (``accounts.py``), as ``AuditSink`` does: storage
sits above security in the layers, so ``storage/sql/identity.py`` implements
this protocol rather than security importing a storage module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from wattline.security.roles import Role


class IdentityConflictError(ValueError):
    """The object exists already (an email, a membership)."""


@dataclass(frozen=True, slots=True)
class Tenant:
    tenant_id: str
    name: str
    created_ms: int


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    email: str  # lower-cased
    display_name: str | None
    password_hash: str
    password_changed_ms: int
    created_ms: int
    disabled_ms: int | None = None
    totp_secret: str | None = None
    totp_enabled: bool = False
    totp_last_step: int | None = None
    recovery_codes: tuple[str, ...] = ()  # SHA-256 of the unused ones


@dataclass(frozen=True, slots=True)
class Membership:
    user_id: str
    tenant_id: str
    role: Role
    email: str
    display_name: str | None
    created_ms: int


@dataclass(frozen=True, slots=True)
class Invitation:
    token_hash: str
    tenant_id: str
    email: str
    role: Role
    invited_by: str
    created_ms: int
    expires_ms: int
    accepted_ms: int | None = None


@dataclass(frozen=True, slots=True)
class RefreshToken:
    token_hash: str
    family_id: str  # one login's chain of tokens: the session
    user_id: str
    tenant_id: str
    issued_ms: int
    expires_ms: int
    replaced_ms: int | None = None
    revoked_ms: int | None = None


class RotationOutcome(StrEnum):
    ROTATED = "rotated"
    REUSED = "reused"  # a replaced token came back: the family is now revoked
    INVALID = "invalid"  # unknown, expired or revoked


@dataclass(frozen=True, slots=True)
class Rotation:
    outcome: RotationOutcome
    # the presented token's row, when there was one
    previous: RefreshToken | None = None


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    tenant_id: str
    name: str
    prefix: str
    role: Role
    created_by: str
    created_ms: int
    expires_ms: int | None = None
    last_used_ms: int | None = None
    revoked_ms: int | None = None


class IdentityStore(Protocol):
    # -- tenants, users, memberships ----------------------------------------
    def ensure_tenant(self, tenant_id: str, name: str, now_ms: int) -> Tenant: ...

    def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    def add_user(self, user: User) -> None:
        """Raises ``IdentityConflictError`` when the email is taken."""
        ...

    def user_by_email(self, email: str) -> User | None: ...

    def user_by_id(self, user_id: str) -> User | None: ...

    def set_password_hash(self, user_id: str, password_hash: str, changed_ms: int | None) -> None:
        """``changed_ms`` None: the same password, rehashed with new parameters."""
        ...

    def set_totp(
        self, user_id: str, secret: str | None, enabled: bool, recovery_hashes: Sequence[str]
    ) -> None: ...

    def use_totp_step(self, user_id: str, step: int) -> bool:
        """Record ``step`` as used; False when it (or a later one) was used already."""
        ...

    def use_recovery_code(self, user_id: str, code_hash: str) -> bool:
        """Strike the code off; False when it is not (or no longer) among the user's."""
        ...

    def add_membership(self, user_id: str, tenant_id: str, role: Role, now_ms: int) -> None:
        """Raises ``IdentityConflictError`` when the user is a member already."""
        ...

    def membership(self, user_id: str, tenant_id: str) -> Membership | None: ...

    def memberships_of(self, user_id: str) -> list[Membership]: ...

    def members(self, tenant_id: str) -> list[Membership]: ...

    def set_role(self, user_id: str, tenant_id: str, role: Role) -> bool: ...

    def remove_membership(self, user_id: str, tenant_id: str) -> bool: ...

    def session_member(
        self, user_id: str, tenant_id: str, family_id: str, now_ms: int
    ) -> Membership | None:
        """The membership an access token stands for, if the user is enabled, still a
        member of the tenant, and the token's session (refresh family) is live."""
        ...

    # -- invitations ----------------------------------------------------------
    def add_invitation(self, invitation: Invitation) -> None: ...

    def invitation_email(self, token_hash: str, now_ms: int) -> str | None:
        """The email of an open, unexpired invitation."""
        ...

    def take_invitation(self, token_hash: str, now_ms: int) -> Invitation | None:
        """Mark an open, unexpired invitation accepted and return it; else None."""
        ...

    # -- refresh tokens (sessions) -------------------------------------------
    def add_refresh_token(self, token: RefreshToken) -> None: ...

    def rotate_refresh_token(
        self, token_hash: str, successor: RefreshToken, now_ms: int
    ) -> Rotation:
        """Replace a live token by ``successor`` (same family; its tenant may differ).
        A token replaced before is reuse: the whole family is revoked."""
        ...

    def refresh_token(self, token_hash: str) -> RefreshToken | None: ...

    def revoke_family(self, family_id: str, now_ms: int) -> int: ...

    def revoke_user_sessions(self, user_id: str, now_ms: int, keep_family: str | None) -> int: ...

    # -- API keys ---------------------------------------------------------------
    def add_api_key(self, key: ApiKey, key_hash: str) -> None: ...

    def api_key_by_hash(self, key_hash: str) -> ApiKey | None: ...

    def api_keys(self, tenant_id: str) -> list[ApiKey]: ...

    def revoke_api_key(self, tenant_id: str, key_id: str, now_ms: int) -> bool: ...

    def touch_api_key(self, key_id: str, now_ms: int) -> None: ...
