"""Login, sessions, passwords and TOTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from tests.integration.security.conftest import (
    BOOTSTRAP,
    OWNER_EMAIL,
    OWNER_PASSWORD,
    Clock,
    Recorded,
)

from wattline.security import totp
from wattline.security.accounts import SESSION_CACHE_S
from wattline.security.errors import (
    AuthenticationFailedError,
    InvalidRequestError,
    NotAllowedError,
    SecondFactorRequiredError,
    ThrottledError,
)
from wattline.security.passwords import Argon2Parameters, Passwords
from wattline.security.principal import PrincipalKind
from wattline.security.roles import Role
from wattline.security.service import IdentityService
from wattline.storage.schema import DEFAULT_TENANT

ADDRESS = "203.0.113.9"


def whoami(service: IdentityService, bearer: str) -> str | None:
    principal = service.authenticator.authenticate(bearer, ADDRESS)
    return None if principal is None else f"{principal.display}/{principal.role}"


def test_login_gives_a_token_that_authenticates(service: IdentityService, audit: Recorded) -> None:
    session = service.accounts.login("  Owner@Example.org ", OWNER_PASSWORD, ADDRESS)
    assert session.role is Role.OWNER
    assert session.tenant_id == DEFAULT_TENANT
    assert session.refresh_token.startswith("wlr_")
    principal = service.authenticator.authenticate(session.access_token, ADDRESS)
    assert principal is not None
    assert principal.kind is PrincipalKind.USER
    assert principal.display == OWNER_EMAIL
    assert audit.actions()[-1] == "login"


@pytest.mark.parametrize(
    ("email", "password"),
    [(OWNER_EMAIL, "a wrong password!"), ("nobody@example.org", OWNER_PASSWORD)],
    ids=["wrong-password", "unknown-email"],
)
def test_wrong_credentials_say_the_same(
    service: IdentityService, audit: Recorded, email: str, password: str
) -> None:
    with pytest.raises(AuthenticationFailedError, match="wrong email or password"):
        service.accounts.login(email, password, ADDRESS)
    assert audit.events[-1].action == "login_failed"
    assert audit.events[-1].source == ADDRESS


def test_twenty_wrong_passwords_throttle_and_the_owner_logs_in_after_the_window(
    service: IdentityService, clock: Clock
) -> None:
    outcomes = []
    for _ in range(20):
        try:
            service.accounts.login(OWNER_EMAIL, "guessing, guessing", "198.51.100.7")
        except ThrottledError:
            outcomes.append("throttled")
        except AuthenticationFailedError:
            outcomes.append("wrong")
        clock.advance(1)
    assert outcomes[:5] == ["wrong"] * 5
    assert outcomes[5:] == ["throttled"] * 15
    # The real owner, from another address, is held off too, until the lock ends ...
    with pytest.raises(ThrottledError) as held:
        service.accounts.login(OWNER_EMAIL, OWNER_PASSWORD, ADDRESS)
    clock.advance(held.value.retry_after_s)
    # ... and then gets in: attempts during the lock did not extend it.
    assert service.accounts.login(OWNER_EMAIL, OWNER_PASSWORD, ADDRESS).role is Role.OWNER


def test_refresh_rotates_and_reuse_revokes_the_family(service: IdentityService) -> None:
    first = service.accounts.login(OWNER_EMAIL, OWNER_PASSWORD, ADDRESS)
    second = service.accounts.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert whoami(service, second.access_token) == f"{OWNER_EMAIL}/owner"
    with pytest.raises(AuthenticationFailedError, match="used twice"):
        service.accounts.refresh(first.refresh_token)  # a stolen copy comes back
    # every token of the family is now dead, the thief's and the owner's
    with pytest.raises(AuthenticationFailedError):
        service.accounts.refresh(second.refresh_token)
    assert whoami(service, second.access_token) is None
    assert whoami(service, first.access_token) is None
    # another login is another family, untouched
    assert service.accounts.login(OWNER_EMAIL, OWNER_PASSWORD, ADDRESS)


def test_a_valid_token_after_logout_is_refused(service: IdentityService) -> None:
    kept = service.accounts.login(OWNER_EMAIL, OWNER_PASSWORD, ADDRESS)
    ended = service.accounts.login(OWNER_EMAIL, OWNER_PASSWORD, ADDRESS)
    claims = service.authenticator.access_claims(ended.access_token)
    assert claims is not None
    service.accounts.logout(claims.session_id, OWNER_EMAIL)
    assert whoami(service, ended.access_token) is None
    with pytest.raises(AuthenticationFailedError):
        service.accounts.refresh(ended.refresh_token)
    assert whoami(service, kept.access_token) is not None
    assert service.accounts.logout_all(kept.user_id, OWNER_EMAIL) == 1
    assert whoami(service, kept.access_token) is None


def test_password_change_revokes_the_other_sessions(service: IdentityService) -> None:
    mine = service.accounts.login(OWNER_EMAIL, OWNER_PASSWORD, ADDRESS)
    other = service.accounts.login(OWNER_EMAIL, OWNER_PASSWORD, "192.0.2.1")
    claims = service.authenticator.access_claims(mine.access_token)
    assert claims is not None
    with pytest.raises(NotAllowedError):
        service.accounts.change_password(mine.user_id, claims.session_id, "wrong one!!!!", "x" * 12)
    with pytest.raises(InvalidRequestError, match="at least 12"):
        service.accounts.change_password(mine.user_id, claims.session_id, OWNER_PASSWORD, "short")
    ended = service.accounts.change_password(
        mine.user_id, claims.session_id, OWNER_PASSWORD, "a brand new passphrase"
    )
    assert ended == 1
    assert whoami(service, mine.access_token) is not None
    assert whoami(service, other.access_token) is None
    with pytest.raises(AuthenticationFailedError):
        service.accounts.login(OWNER_EMAIL, OWNER_PASSWORD, ADDRESS)
    assert service.accounts.login(OWNER_EMAIL, "a brand new passphrase", ADDRESS)


def test_totp_codes_are_single_use_within_their_window(
    service: IdentityService, clock: Clock
) -> None:
    user_id = service.accounts.login(OWNER_EMAIL, OWNER_PASSWORD, ADDRESS).user_id
    enrollment = service.accounts.enroll_totp(user_id)
    recovery = service.accounts.confirm_totp(user_id, totp.code_at(enrollment.secret, clock()))
    assert len(recovery) == 10
    with pytest.raises(SecondFactorRequiredError):
        service.accounts.login(OWNER_EMAIL, OWNER_PASSWORD, ADDRESS)
    clock.advance(totp.STEP_S)
    code = totp.code_at(enrollment.secret, clock())
    assert service.accounts.login(OWNER_EMAIL, OWNER_PASSWORD, ADDRESS, code=code)
    # the same code again, still within its window: refused
    with pytest.raises(AuthenticationFailedError, match="TOTP"):
        service.accounts.login(OWNER_EMAIL, OWNER_PASSWORD, ADDRESS, code=code)
    # the previous step's code is older than the one used: refused too
    clock.advance(1)
    earlier = totp.code_at(enrollment.secret, clock() - totp.STEP_S)
    with pytest.raises(AuthenticationFailedError):
        service.accounts.login(OWNER_EMAIL, OWNER_PASSWORD, ADDRESS, code=earlier)
    # a recovery code works once
    assert service.accounts.login(OWNER_EMAIL, OWNER_PASSWORD, ADDRESS, code=recovery[0])
    with pytest.raises(AuthenticationFailedError):
        service.accounts.login(OWNER_EMAIL, OWNER_PASSWORD, ADDRESS, code=recovery[0])
    service.accounts.disable_totp(user_id, OWNER_PASSWORD, recovery[1])
    assert service.accounts.login(OWNER_EMAIL, OWNER_PASSWORD, ADDRESS)


def test_a_hash_with_old_parameters_is_rehashed_on_login(service: IdentityService) -> None:
    store = service.accounts.store
    user = store.user_by_email(OWNER_EMAIL)
    assert user is not None
    old = Passwords(Argon2Parameters(time_cost=2, memory_kib=16, parallelism=1))
    store.set_password_hash(user.user_id, old.hash(OWNER_PASSWORD), None)
    service.accounts.login(OWNER_EMAIL, OWNER_PASSWORD, ADDRESS)
    rehashed = store.user_by_email(OWNER_EMAIL)
    assert rehashed is not None
    assert not service.accounts.passwords.needs_rehash(rehashed.password_hash)
    assert service.accounts.passwords.verify(rehashed.password_hash, OWNER_PASSWORD)
    assert rehashed.password_changed_ms == user.password_changed_ms


def test_a_removed_member_loses_access_at_once(service: IdentityService) -> None:
    service.members.create_user(BOOTSTRAP, "op@example.org", "operator password", Role.OPERATOR)
    session = service.accounts.login("op@example.org", "operator password", ADDRESS)
    assert whoami(service, session.access_token) == "op@example.org/operator"
    service.members.set_role(BOOTSTRAP, session.user_id, Role.VIEWER)
    assert whoami(service, session.access_token) == "op@example.org/viewer"
    service.members.remove(BOOTSTRAP, session.user_id)
    assert whoami(service, session.access_token) is None
    with pytest.raises(AuthenticationFailedError):
        service.accounts.refresh(session.refresh_token)


def test_a_session_ended_by_another_process_is_refused_after_the_cache_time(
    service: IdentityService, clock: Clock
) -> None:
    session = service.accounts.login(OWNER_EMAIL, OWNER_PASSWORD, ADDRESS)
    assert whoami(service, session.access_token) is not None
    claims = service.authenticator.access_claims(session.access_token)
    assert claims is not None
    # another API process logs the session out: straight in the store
    service.accounts.store.revoke_family(claims.session_id, int(clock() * 1000))
    assert whoami(service, session.access_token) is not None
    clock.advance(SESSION_CACHE_S)
    assert whoami(service, session.access_token) is None
