"""People's sessions: login, refresh, logout, password and TOTP changes.

Every use case takes the store, a clock and (optionally) an audit sink from its
constructor, so tests run it against SQLite and PostgreSQL with a hand-moved
clock. Failures raise ``security.errors``; the API maps each class to a status.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from wattline.security import totp
from wattline.security.audit import AuditEvent, AuditSink
from wattline.security.errors import (
    AuthenticationFailedError,
    InvalidRequestError,
    NotAllowedError,
    SecondFactorRequiredError,
    ThrottledError,
)
from wattline.security.identity_store import (
    IdentityStore,
    Membership,
    RefreshToken,
    RotationOutcome,
    User,
)
from wattline.security.passwords import (
    MAX_PASSWORD_CHARS,
    PasswordPolicyError,
    Passwords,
    check_policy,
)
from wattline.security.roles import Role
from wattline.security.throttle import LoginThrottle
from wattline.security.tokens import REFRESH_PREFIX, AccessTokens, new_secret, secret_hash

# A session lives this long without use; each refresh extends it.
REFRESH_TTL_S = 30 * 86_400
# A checked session (member, account enabled, not logged out) is trusted this long
# without asking the store: the query cost 0.4 ms median but 3.5 ms at p95 on a
# busy 2-core machine (benchmarks/auth.py). Changes made through this process
# clear the cache at once; made through another API process, they apply within
# this time.
SESSION_CACHE_S = 5.0
SESSION_CACHE_MAX = 10_000


@dataclass(frozen=True, slots=True)
class Session:
    """What a login or a refresh hands the client: both tokens are shown only here."""

    access_token: str
    refresh_token: str
    expires_in_s: int
    user_id: str
    tenant_id: str
    role: Role


@dataclass(frozen=True, slots=True)
class Enrollment:
    secret: str
    uri: str  # otpauth://, for a QR code


def normalise_email(email: str) -> str:
    return email.strip().lower()


class Accounts:
    def __init__(  # noqa: PLR0913 - each collaborator is injected
        self,
        store: IdentityStore,
        tokens: AccessTokens,
        passwords: Passwords,
        throttle: LoginThrottle,
        *,
        clock: Callable[[], float],
        audit: AuditSink | None = None,
    ) -> None:
        self.store = store
        self.tokens = tokens
        self.passwords = passwords
        self._throttle = throttle
        self.clock = clock
        self._audit = audit
        self._sessions_lock = threading.Lock()
        self._sessions: dict[tuple[str, str, str], tuple[Membership, float]] = {}

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def record(self, action: str, actor: str, obj: str, **extra: Any) -> None:
        if self._audit is not None:
            tenant_id = extra.pop("tenant_id", None)
            source = extra.pop("source", None)
            self._audit.record(AuditEvent(action, actor, obj, tenant_id, source, extra))

    # -- the session behind an access token ------------------------------------------

    def session_member(self, user_id: str, tenant_id: str, session_id: str) -> Membership | None:
        """The membership a live session acts with, briefly cached (``SESSION_CACHE_S``)."""
        key = (user_id, tenant_id, session_id)
        now_s = self.clock()
        with self._sessions_lock:
            cached = self._sessions.get(key)
        if cached is not None and now_s - cached[1] < SESSION_CACHE_S:
            return cached[0]
        member = self.store.session_member(user_id, tenant_id, session_id, int(now_s * 1000))
        with self._sessions_lock:
            if member is None:
                self._sessions.pop(key, None)
            else:
                if len(self._sessions) >= SESSION_CACHE_MAX:
                    self._sessions.clear()
                self._sessions[key] = (member, now_s)
        return member

    def forget_sessions(self) -> None:
        """After any change to sessions, roles or memberships: check again from the store."""
        with self._sessions_lock:
            self._sessions.clear()

    # -- login ---------------------------------------------------------------------

    def login(
        self,
        email: str,
        password: str,
        source: str | None,
        code: str | None = None,
        tenant_id: str | None = None,
    ) -> Session:
        email = normalise_email(email)
        keys = [f"acct:{email}"] + ([f"addr:{source}"] if source else [])
        now_s = self.clock()
        wait_s = self._throttle.retry_after_s(keys, now_s)
        if wait_s > 0:
            raise ThrottledError(wait_s)
        user = self.store.user_by_email(email)
        # The hash is checked even for an unknown email: the same time either way.
        if (
            not self.passwords.verify(user.password_hash if user else None, password)
            or user is None
            or user.disabled_ms is not None
        ):
            self._failed(keys, email, source, "wrong email or password")
        if user.totp_enabled:
            if not code:
                raise SecondFactorRequiredError("this account needs a TOTP or recovery code")
            if not self._second_factor(user, code, now_s):
                self._failed(keys, email, source, "wrong TOTP or recovery code")
        membership = self._login_membership(user, tenant_id)
        self._throttle.succeeded(keys)
        if self.passwords.needs_rehash(user.password_hash):
            self.store.set_password_hash(user.user_id, self.passwords.hash(password), None)
        session = self.new_session(membership)
        self.record("login", email, f"user:{email}", tenant_id=membership.tenant_id, source=source)
        return session

    def _failed(self, keys: list[str], email: str, source: str | None, why: str) -> NoReturn:
        self._throttle.failed(keys, self.clock())
        self.record("login_failed", "anonymous", f"user:{email[:200]}", source=source, why=why)
        raise AuthenticationFailedError(why)

    def _second_factor(self, user: User, code: str, now_s: float) -> bool:
        if user.totp_secret is None:
            return False
        step = totp.matching_step(user.totp_secret, code, now_s, user.totp_last_step)
        if step is not None:
            return self.store.use_totp_step(user.user_id, step)
        return self.store.use_recovery_code(user.user_id, totp.recovery_hash(code))

    def _login_membership(self, user: User, tenant_id: str | None) -> Membership:
        memberships = self.store.memberships_of(user.user_id)
        if tenant_id is not None:
            memberships = [m for m in memberships if m.tenant_id == tenant_id]
        if not memberships:
            raise NotAllowedError(
                "this account is not a member of that tenant"
                if tenant_id
                else "this account belongs to no tenant"
            )
        return memberships[0]

    def new_session(self, membership: Membership) -> Session:
        refresh = new_secret(REFRESH_PREFIX)
        now_ms = self.now_ms()
        token = RefreshToken(
            token_hash=secret_hash(refresh),
            family_id=str(uuid.uuid4()),
            user_id=membership.user_id,
            tenant_id=membership.tenant_id,
            issued_ms=now_ms,
            expires_ms=now_ms + REFRESH_TTL_S * 1000,
        )
        self.store.add_refresh_token(token)
        return self._session(membership, token, refresh)

    def _session(self, membership: Membership, token: RefreshToken, refresh: str) -> Session:
        access = self.tokens.issue(
            membership.user_id,
            membership.tenant_id,
            membership.role.value,
            token.family_id,
            int(self.clock()),
        )
        return Session(
            access_token=access,
            refresh_token=refresh,
            expires_in_s=self.tokens.ttl_s,
            user_id=membership.user_id,
            tenant_id=membership.tenant_id,
            role=membership.role,
        )

    # -- sessions ------------------------------------------------------------------

    def refresh(
        self,
        refresh_token: str,
        source: str | None = None,
        tenant_id: str | None = None,
        session_id: str | None = None,
    ) -> Session:
        """A new pair for a live refresh token, which is spent. Presenting a spent token
        again revokes its whole family: someone else has a copy. ``tenant_id`` moves the
        session to another tenant the user belongs to; ``session_id`` insists the token
        is of that session."""
        presented = self.store.refresh_token(secret_hash(refresh_token))
        if presented is None:
            raise AuthenticationFailedError("unknown or expired refresh token")
        if session_id is not None and presented.family_id != session_id:
            raise AuthenticationFailedError("that refresh token is not this session's")
        membership = self.store.membership(presented.user_id, tenant_id or presented.tenant_id)
        user = self.store.user_by_id(presented.user_id)
        if membership is None or user is None or user.disabled_ms is not None:
            if tenant_id is not None and user is not None and user.disabled_ms is None:
                raise NotAllowedError("you are not a member of that tenant")
            raise AuthenticationFailedError("this account no longer has access to the tenant")
        successor_secret = new_secret(REFRESH_PREFIX)
        now_ms = self.now_ms()
        successor = RefreshToken(
            token_hash=secret_hash(successor_secret),
            family_id=presented.family_id,
            user_id=presented.user_id,
            tenant_id=membership.tenant_id,
            issued_ms=now_ms,
            expires_ms=now_ms + REFRESH_TTL_S * 1000,
        )
        rotation = self.store.rotate_refresh_token(presented.token_hash, successor, now_ms)
        if rotation.outcome is RotationOutcome.REUSED:
            self.forget_sessions()
            self.record(
                "session.reuse",
                user.email,
                f"session:{presented.family_id}",
                tenant_id=presented.tenant_id,
                source=source,
            )
            raise AuthenticationFailedError(
                "refresh token used twice: every session of this login is now revoked"
            )
        if rotation.outcome is RotationOutcome.INVALID:
            raise AuthenticationFailedError("unknown or expired refresh token")
        return self._session(membership, successor, successor_secret)

    def logout(self, session_id: str, display: str) -> None:
        """End one session: its refresh tokens and every access token naming it."""
        self.store.revoke_family(session_id, self.now_ms())
        self.forget_sessions()
        self.record("logout", display, f"session:{session_id}")

    def logout_all(self, user_id: str, display: str) -> int:
        ended = self.store.revoke_user_sessions(user_id, self.now_ms(), keep_family=None)
        self.forget_sessions()
        self.record("logout_all", display, f"user:{display}", sessions=ended)
        return ended

    # -- the account itself ---------------------------------------------------------

    def user(self, user_id: str) -> User:
        user = self.store.user_by_id(user_id)
        if user is None:
            raise AuthenticationFailedError("this account no longer exists")
        return user

    def change_password(self, user_id: str, session_id: str, current: str, new: str) -> int:
        """Set a new password; every other session of the user ends. Returns how many."""
        user = self.user(user_id)
        if not self.passwords.verify(user.password_hash, current):
            raise NotAllowedError("the current password is wrong")
        new_hash = self._hash_new(new)
        now_ms = self.now_ms()
        self.store.set_password_hash(user_id, new_hash, now_ms)
        ended = self.store.revoke_user_sessions(user_id, now_ms, keep_family=session_id)
        self.forget_sessions()
        self.record("password.change", user.email, f"user:{user.email}", other_sessions=ended)
        return ended

    def _hash_new(self, password: str) -> str:
        try:
            return self.passwords.hash(password)
        except PasswordPolicyError as exc:
            raise InvalidRequestError(str(exc)) from None

    def enroll_totp(self, user_id: str) -> Enrollment:
        """A new secret, not yet required: ``confirm_totp`` with a first code turns it on."""
        user = self.user(user_id)
        if user.totp_enabled:
            raise InvalidRequestError("TOTP is on already: disable it first")
        secret = totp.new_secret()
        self.store.set_totp(user_id, secret, enabled=False, recovery_hashes=())
        return Enrollment(secret, totp.provisioning_uri(secret, user.email))

    def confirm_totp(self, user_id: str, code: str) -> list[str]:
        """Turn TOTP on with a first valid code; returns the recovery codes, shown once."""
        user = self.user(user_id)
        if user.totp_secret is None or user.totp_enabled:
            raise InvalidRequestError("start with POST /api/v1/auth/totp/enroll")
        step = totp.matching_step(user.totp_secret, code, self.clock(), None)
        if step is None:
            raise InvalidRequestError("that code is not valid now")
        codes = totp.new_recovery_codes()
        hashes = [totp.recovery_hash(c) for c in codes]
        self.store.set_totp(user_id, user.totp_secret, enabled=True, recovery_hashes=hashes)
        self.store.use_totp_step(user_id, step)
        self.record("totp.enable", user.email, f"user:{user.email}")
        return codes

    def disable_totp(self, user_id: str, password: str, code: str) -> None:
        user = self.user(user_id)
        if not self.passwords.verify(user.password_hash, password[:MAX_PASSWORD_CHARS]):
            raise NotAllowedError("the password is wrong")
        if not user.totp_enabled or not self._second_factor(user, code, self.clock()):
            raise NotAllowedError("that TOTP or recovery code is not valid")
        self.store.set_totp(user_id, None, enabled=False, recovery_hashes=())
        self.record("totp.disable", user.email, f"user:{user.email}")

    def check_new_password(self, password: str) -> None:
        try:
            check_policy(password)
        except PasswordPolicyError as exc:
            raise InvalidRequestError(str(exc)) from None
