"""Members, invitations and API keys, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from tests.integration.security.conftest import BOOTSTRAP, OWNER_EMAIL, OWNER_PASSWORD, Clock

from wattline.security.apikeys import CACHE_TTL_S, TOUCH_EVERY_MS
from wattline.security.errors import (
    AuthenticationFailedError,
    ConflictError,
    NotAllowedError,
    NotFoundError,
)
from wattline.security.principal import Principal, PrincipalKind
from wattline.security.roles import Role
from wattline.security.service import IdentityService
from wattline.storage.schema import DEFAULT_TENANT

ADMIN = Principal(PrincipalKind.USER, "admin-id", DEFAULT_TENANT, Role.ADMIN, "admin@example.org")


def test_an_admin_cannot_make_or_touch_owners(service: IdentityService) -> None:
    with pytest.raises(NotAllowedError, match="only an owner"):
        service.members.create_user(ADMIN, "x@example.org", "twelve chars!", Role.OWNER)
    owner = service.accounts.store.user_by_email(OWNER_EMAIL)
    assert owner is not None
    with pytest.raises(NotAllowedError):
        service.members.set_role(ADMIN, owner.user_id, Role.VIEWER)
    with pytest.raises(NotAllowedError):
        service.members.remove(ADMIN, owner.user_id)
    viewer = Principal(PrincipalKind.USER, "v", DEFAULT_TENANT, Role.VIEWER, "v@example.org")
    with pytest.raises(NotAllowedError):
        service.members.invite(viewer, "y@example.org", Role.VIEWER)


def test_the_last_owner_stays(service: IdentityService) -> None:
    owner = service.accounts.store.user_by_email(OWNER_EMAIL)
    assert owner is not None
    with pytest.raises(ConflictError, match="last owner"):
        service.members.set_role(BOOTSTRAP, owner.user_id, Role.ADMIN)
    with pytest.raises(ConflictError):
        service.members.remove(BOOTSTRAP, owner.user_id)
    service.members.create_user(BOOTSTRAP, "co@example.org", "co-owner password", Role.OWNER)
    service.members.set_role(BOOTSTRAP, owner.user_id, Role.ADMIN)


def test_a_taken_email_and_another_tenants_member(service: IdentityService) -> None:
    with pytest.raises(ConflictError, match="invite"):
        service.members.create_user(BOOTSTRAP, OWNER_EMAIL, "twelve chars!", Role.VIEWER)
    other = Principal(PrincipalKind.USER, "o", "other", Role.OWNER, "o@example.org")
    owner = service.accounts.store.user_by_email(OWNER_EMAIL)
    assert owner is not None
    with pytest.raises(NotFoundError):
        service.members.set_role(other, owner.user_id, Role.VIEWER)
    assert service.members.members("other") == []


def test_an_invitation_makes_an_account_once(service: IdentityService, clock: Clock) -> None:
    made = service.members.invite(BOOTSTRAP, "New@Example.org", Role.OPERATOR)
    session = service.members.accept(made.token, "a fresh password", "New", "192.0.2.1")
    assert session.role is Role.OPERATOR
    with pytest.raises(NotFoundError):
        service.members.accept(made.token, "a fresh password", None, None)
    expired = service.members.invite(BOOTSTRAP, "late@example.org", Role.VIEWER)
    clock.advance(8 * 86_400)
    with pytest.raises(NotFoundError, match="expired"):
        service.members.accept(expired.token, "a fresh password", None, None)


def test_an_existing_account_accepts_with_its_own_password(service: IdentityService) -> None:
    service.accounts.store.ensure_tenant("t2", "Second", 0)
    second_owner = Principal(PrincipalKind.USER, "x", "t2", Role.OWNER, "x@example.org")
    made = service.members.invite(second_owner, OWNER_EMAIL, Role.VIEWER)
    with pytest.raises(AuthenticationFailedError):
        service.members.accept(made.token, "not the password", None, None)
    session = service.members.accept(made.token, OWNER_PASSWORD, None, None)
    assert (session.tenant_id, session.role) == ("t2", Role.VIEWER)
    # the same login can move between its tenants
    moved = service.accounts.refresh(session.refresh_token, tenant_id=DEFAULT_TENANT)
    assert (moved.tenant_id, moved.role) == (DEFAULT_TENANT, Role.OWNER)
    with pytest.raises(NotAllowedError):
        service.accounts.refresh(moved.refresh_token, tenant_id="nowhere")


def test_open_sign_up_is_off_by_default(service: IdentityService) -> None:
    with pytest.raises(NotAllowedError, match="invitation"):
        service.members.sign_up("me@example.org", "twelve chars!", "Mine")
    service.members.open_signup = True
    member = service.members.sign_up("me@example.org", "twelve chars!", "Mine")
    assert member.role is Role.OWNER


def test_api_key_shown_once_works_and_revoked_is_refused(service: IdentityService) -> None:
    made = service.api_keys.create(BOOTSTRAP, "meter reader", Role.VIEWER)
    assert made.secret.startswith("wl_")
    assert made.key.prefix == made.secret[:11]
    listed = service.api_keys.tenant_keys(DEFAULT_TENANT)
    assert [k.key_id for k in listed] == [made.key.key_id]
    assert made.secret not in repr(listed)
    principal = service.authenticator.authenticate(made.secret, None)
    assert principal is not None
    assert (principal.kind, principal.role) == (PrincipalKind.API_KEY, Role.VIEWER)
    service.api_keys.revoke(BOOTSTRAP, made.key.key_id)
    assert service.authenticator.authenticate(made.secret, None) is None
    with pytest.raises(NotFoundError):
        service.api_keys.revoke(BOOTSTRAP, made.key.key_id)


def test_an_expired_api_key_is_refused_even_from_the_cache(
    service: IdentityService, clock: Clock
) -> None:
    made = service.api_keys.create(
        BOOTSTRAP, "short-lived", Role.VIEWER, int(clock() * 1000) + 5_000
    )
    assert service.authenticator.authenticate(made.secret, None) is not None
    clock.advance(5)
    assert service.authenticator.authenticate(made.secret, None) is None


def test_a_key_cannot_exceed_its_makers_role(service: IdentityService) -> None:
    with pytest.raises(NotAllowedError):
        service.api_keys.create(ADMIN, "too strong", Role.OWNER)


def test_last_used_is_written_at_most_once_a_minute(service: IdentityService, clock: Clock) -> None:
    made = service.api_keys.create(BOOTSTRAP, "busy", Role.VIEWER)
    store = service.accounts.store

    def last_used() -> int | None:
        return store.api_keys(DEFAULT_TENANT)[0].last_used_ms

    service.authenticator.authenticate(made.secret, None)
    first = last_used()
    assert first == int(clock() * 1000)
    clock.advance(10)
    service.authenticator.authenticate(made.secret, None)
    assert last_used() == first
    clock.advance(TOUCH_EVERY_MS / 1000)
    service.authenticator.authenticate(made.secret, None)
    assert last_used() == int(clock() * 1000)


def test_a_key_revoked_elsewhere_is_refused_after_the_cache_time(
    service: IdentityService, clock: Clock
) -> None:
    made = service.api_keys.create(BOOTSTRAP, "cached", Role.VIEWER)
    assert service.authenticator.authenticate(made.secret, None) is not None
    # revoked by another process: straight in the store
    service.accounts.store.revoke_api_key(DEFAULT_TENANT, made.key.key_id, int(clock() * 1000))
    assert service.authenticator.authenticate(made.secret, None) is not None
    clock.advance(CACHE_TTL_S)
    assert service.authenticator.authenticate(made.secret, None) is None
