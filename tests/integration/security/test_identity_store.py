"""The identity store's contract, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from wattline.security.identity_store import (
    ApiKey,
    IdentityConflictError,
    Invitation,
    RefreshToken,
    RotationOutcome,
    User,
)
from wattline.security.roles import Role
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore
from wattline.storage.sql.identity import SqlIdentity

T0 = 1_764_057_600_000


@pytest.fixture
def identity(store: SqlStore) -> SqlIdentity:
    store.identity.ensure_tenant(DEFAULT_TENANT, "Default", T0)
    store.identity.add_user(user("u1", "ana@example.org"))
    store.identity.add_membership("u1", DEFAULT_TENANT, Role.OWNER, T0)
    return store.identity


def user(user_id: str, email: str) -> User:
    return User(user_id, email, None, "$argon2id$x", T0, T0)


def token(token_hash: str, family: str = "f1", expires_ms: int = T0 + 1000) -> RefreshToken:
    return RefreshToken(token_hash, family, "u1", DEFAULT_TENANT, T0, expires_ms)


def test_users_by_email_and_id_and_a_taken_email(identity: SqlIdentity) -> None:
    found = identity.user_by_email("ana@example.org")
    assert found is not None
    assert found.user_id == "u1"
    assert identity.user_by_id("u1") == found
    assert found.recovery_codes == ()
    assert not found.totp_enabled
    with pytest.raises(IdentityConflictError):
        identity.add_user(user("u2", "ana@example.org"))


def test_memberships_roles_and_removal(identity: SqlIdentity) -> None:
    identity.ensure_tenant("t2", "Second", T0)
    identity.add_membership("u1", "t2", Role.VIEWER, T0 + 1)
    with pytest.raises(IdentityConflictError):
        identity.add_membership("u1", "t2", Role.ADMIN, T0 + 2)
    assert [(m.tenant_id, m.role) for m in identity.memberships_of("u1")] == [
        (DEFAULT_TENANT, Role.OWNER),
        ("t2", Role.VIEWER),
    ]
    assert identity.set_role("u1", "t2", Role.OPERATOR)
    member = identity.membership("u1", "t2")
    assert member is not None
    assert member.role is Role.OPERATOR
    assert member.email == "ana@example.org"
    assert identity.remove_membership("u1", "t2")
    assert not identity.remove_membership("u1", "t2")
    assert identity.members("t2") == []


def test_rotation_then_reuse_revokes_the_family(identity: SqlIdentity) -> None:
    identity.add_refresh_token(token("h1", expires_ms=T0 + 10_000))
    first = identity.rotate_refresh_token("h1", token("h2", expires_ms=T0 + 10_000), T0 + 1)
    assert first.outcome is RotationOutcome.ROTATED
    assert identity.session_member("u1", DEFAULT_TENANT, "f1", T0 + 2) is not None
    again = identity.rotate_refresh_token("h1", token("h3", expires_ms=T0 + 10_000), T0 + 2)
    assert again.outcome is RotationOutcome.REUSED
    # the live token of the family is revoked with it, and so is the session
    latest = identity.refresh_token("h2")
    assert latest is not None
    assert latest.revoked_ms == T0 + 2
    assert identity.session_member("u1", DEFAULT_TENANT, "f1", T0 + 3) is None
    assert (
        identity.rotate_refresh_token("h2", token("h4"), T0 + 3).outcome is RotationOutcome.INVALID
    )


def test_expired_and_unknown_tokens_do_not_rotate(identity: SqlIdentity) -> None:
    identity.add_refresh_token(token("h1", expires_ms=T0 + 10))
    assert (
        identity.rotate_refresh_token("h1", token("h2"), T0 + 10).outcome is RotationOutcome.INVALID
    )
    assert identity.rotate_refresh_token("nope", token("h3"), T0).outcome is RotationOutcome.INVALID
    assert identity.session_member("u1", DEFAULT_TENANT, "f1", T0 + 10) is None


def test_revoking_a_users_sessions_can_keep_one(identity: SqlIdentity) -> None:
    for family in ("f1", "f2", "f3"):
        identity.add_refresh_token(token(f"h-{family}", family, T0 + 10_000))
    assert identity.revoke_user_sessions("u1", T0 + 1, keep_family="f2") == 2
    live = [
        f for f in ("f1", "f2", "f3") if identity.session_member("u1", DEFAULT_TENANT, f, T0 + 2)
    ]
    assert live == ["f2"]
    assert identity.revoke_family("f2", T0 + 3) == 1
    assert identity.session_member("u1", DEFAULT_TENANT, "f2", T0 + 4) is None


def test_session_member_needs_the_membership(identity: SqlIdentity) -> None:
    identity.add_refresh_token(token("h1", expires_ms=T0 + 10_000))
    assert identity.session_member("u1", DEFAULT_TENANT, "f1", T0) is not None
    identity.remove_membership("u1", DEFAULT_TENANT)
    assert identity.session_member("u1", DEFAULT_TENANT, "f1", T0) is None


def test_totp_steps_are_used_once_and_in_order(identity: SqlIdentity) -> None:
    identity.set_totp("u1", "SECRET", enabled=True, recovery_hashes=["a", "b"])
    assert identity.use_totp_step("u1", 100)
    assert not identity.use_totp_step("u1", 100)
    assert not identity.use_totp_step("u1", 99)
    assert identity.use_totp_step("u1", 101)
    assert identity.use_recovery_code("u1", "a")
    assert not identity.use_recovery_code("u1", "a")
    found = identity.user_by_id("u1")
    assert found is not None
    assert found.recovery_codes == ("b",)
    assert found.totp_enabled


def test_invitations_are_taken_once_and_before_they_expire(identity: SqlIdentity) -> None:
    invitation = Invitation("i1", DEFAULT_TENANT, "bo@example.org", Role.VIEWER, "u1", T0, T0 + 100)
    identity.add_invitation(invitation)
    assert identity.invitation_email("i1", T0) == "bo@example.org"
    assert identity.take_invitation("i1", T0 + 100) is None  # expired
    taken = identity.take_invitation("i1", T0 + 50)
    assert taken is not None
    assert taken.role is Role.VIEWER
    assert identity.take_invitation("i1", T0 + 51) is None
    assert identity.invitation_email("i1", T0 + 51) is None


def test_api_keys_listed_without_hash_touched_and_revoked(identity: SqlIdentity) -> None:
    key = ApiKey("k1", DEFAULT_TENANT, "meter reader", "wl_abcdefgh", Role.VIEWER, "u1", T0)
    identity.add_api_key(key, "hash-1")
    assert identity.api_key_by_hash("hash-1") == key
    assert identity.api_keys(DEFAULT_TENANT) == [key]
    assert identity.api_keys("t2") == []
    identity.touch_api_key("k1", T0 + 5)
    touched = identity.api_key_by_hash("hash-1")
    assert touched is not None
    assert touched.last_used_ms == T0 + 5
    assert not identity.revoke_api_key("t2", "k1", T0 + 6)  # another tenant's key
    assert identity.revoke_api_key(DEFAULT_TENANT, "k1", T0 + 6)
    assert not identity.revoke_api_key(DEFAULT_TENANT, "k1", T0 + 7)
    revoked = identity.api_key_by_hash("hash-1")
    assert revoked is not None
    assert revoked.revoked_ms == T0 + 6
