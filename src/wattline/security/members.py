"""Who belongs to a tenant: users made by an admin, invitations, roles, removal.

Rules: nobody grants a role above their own; only an owner makes, changes or
removes an owner; a tenant always keeps one owner. A user or invitation of
another tenant is "not found", never "forbidden".
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass

from wattline.security.accounts import Accounts, Session, normalise_email
from wattline.security.errors import (
    AuthenticationFailedError,
    ConflictError,
    NotAllowedError,
    NotFoundError,
)
from wattline.security.identity_store import IdentityConflictError, Invitation, Membership, User
from wattline.security.principal import Principal
from wattline.security.roles import Role
from wattline.security.tokens import new_secret, secret_hash

INVITATION_TTL_S = 7 * 86_400
INVITATION_PREFIX = "wli_"


@dataclass(frozen=True, slots=True)
class NewInvitation:
    invitation: Invitation
    token: str  # shown once, to be sent to the invitee


class Members:
    def __init__(self, accounts: Accounts, open_signup: bool = False) -> None:
        self._accounts = accounts
        self._store = accounts.store
        # Off by default: accounts come from an admin or an invitation.
        self.open_signup = open_signup

    def members(self, tenant_id: str) -> list[Membership]:
        return self._store.members(tenant_id)

    def create_user(
        self,
        actor: Principal,
        email: str,
        password: str,
        role: Role,
        display_name: str | None = None,
    ) -> Membership:
        """A new account, member of the actor's tenant."""
        _may_grant(actor, role)
        user = self._new_user(email, password, display_name)
        self._store.add_membership(user.user_id, actor.tenant_id, role, self._accounts.now_ms())
        self._accounts.record(
            "user.create", actor.display, f"user:{user.email}", tenant_id=actor.tenant_id, role=role
        )
        return self._member(user.user_id, actor.tenant_id)

    def sign_up(
        self, email: str, password: str, tenant_name: str, display_name: str | None = None
    ) -> Membership:
        """Open sign-up: a new account owning a new tenant. Refused unless switched on."""
        if not self.open_signup:
            raise NotAllowedError("sign-up is by invitation only")
        user = self._new_user(email, password, display_name)
        tenant = self._store.ensure_tenant(str(uuid.uuid4()), tenant_name, self._accounts.now_ms())
        self._store.add_membership(user.user_id, tenant.tenant_id, Role.OWNER, tenant.created_ms)
        self._accounts.record(
            "user.signup", user.email, f"user:{user.email}", tenant_id=tenant.tenant_id
        )
        return self._member(user.user_id, tenant.tenant_id)

    def _new_user(self, email: str, password: str, display_name: str | None) -> User:
        now_ms = self._accounts.now_ms()
        self._accounts.check_new_password(password)
        user = User(
            user_id=str(uuid.uuid4()),
            email=normalise_email(email),
            display_name=display_name,
            password_hash=self._accounts.passwords.hash(password),
            password_changed_ms=now_ms,
            created_ms=now_ms,
        )
        try:
            self._store.add_user(user)
        except IdentityConflictError:
            raise ConflictError(
                "an account with this email exists: invite it to the tenant instead"
            ) from None
        return user

    def _member(self, user_id: str, tenant_id: str) -> Membership:
        found = self._store.membership(user_id, tenant_id)
        if found is None:
            raise NotFoundError(f"no member {user_id!r} in this tenant")
        return found

    # -- invitations ------------------------------------------------------------------

    def invite(self, actor: Principal, email: str, role: Role) -> NewInvitation:
        _may_grant(actor, role)
        token = new_secret(INVITATION_PREFIX)
        now_ms = self._accounts.now_ms()
        invitation = Invitation(
            token_hash=secret_hash(token),
            tenant_id=actor.tenant_id,
            email=normalise_email(email),
            role=role,
            invited_by=actor.subject,
            created_ms=now_ms,
            expires_ms=now_ms + INVITATION_TTL_S * 1000,
        )
        self._store.add_invitation(invitation)
        self._accounts.record(
            "invitation.create",
            actor.display,
            f"user:{invitation.email}",
            tenant_id=actor.tenant_id,
            role=role,
        )
        return NewInvitation(invitation, token)

    def accept(
        self, token: str, password: str, display_name: str | None, source: str | None
    ) -> Session:
        """Join the invitation's tenant: as a new account with this password, or, when
        the email has an account already, after proving it with that account's password."""
        existing = None
        invitation_hash = secret_hash(token)
        # The password is checked before the invitation is spent, so a typo keeps it.
        pending = self._pending_email(invitation_hash)
        if pending is not None:
            existing = self._store.user_by_email(pending)
            if existing is not None and not self._accounts.passwords.verify(
                existing.password_hash, password
            ):
                raise AuthenticationFailedError(
                    "this email has an account: give that account's password to accept"
                )
            if existing is None:
                self._accounts.check_new_password(password)
        invitation = self._store.take_invitation(invitation_hash, self._accounts.now_ms())
        if invitation is None:
            raise NotFoundError("unknown, expired or already accepted invitation")
        user = existing or self._new_user(invitation.email, password, display_name)
        # A member already: the invitation changes nothing.
        with contextlib.suppress(IdentityConflictError):
            self._store.add_membership(
                user.user_id, invitation.tenant_id, invitation.role, self._accounts.now_ms()
            )
        self._accounts.record(
            "invitation.accept",
            user.email,
            f"user:{user.email}",
            tenant_id=invitation.tenant_id,
            source=source,
        )
        return self._accounts.new_session(self._member(user.user_id, invitation.tenant_id))

    def _pending_email(self, invitation_hash: str) -> str | None:
        # take_invitation is the check that counts; this only reads ahead for the email.
        return self._store.invitation_email(invitation_hash, self._accounts.now_ms())

    # -- roles and removal ---------------------------------------------------------------

    def set_role(self, actor: Principal, user_id: str, role: Role) -> Membership:
        target = self._member(user_id, actor.tenant_id)
        _may_grant(actor, role)
        self._may_change(actor, target)
        if target.role is Role.OWNER and role is not Role.OWNER:
            self._keep_an_owner(actor.tenant_id)
        self._store.set_role(user_id, actor.tenant_id, role)
        self._accounts.forget_sessions()
        self._accounts.record(
            "member.role",
            actor.display,
            f"user:{target.email}",
            tenant_id=actor.tenant_id,
            before=target.role,
            after=role,
        )
        return self._member(user_id, actor.tenant_id)

    def remove(self, actor: Principal, user_id: str) -> None:
        target = self._member(user_id, actor.tenant_id)
        self._may_change(actor, target)
        if target.role is Role.OWNER:
            self._keep_an_owner(actor.tenant_id)
        self._store.remove_membership(user_id, actor.tenant_id)
        self._accounts.forget_sessions()
        self._accounts.record(
            "member.remove",
            actor.display,
            f"user:{target.email}",
            tenant_id=actor.tenant_id,
            before=target.role,
        )

    @staticmethod
    def _may_change(actor: Principal, target: Membership) -> None:
        if target.role is Role.OWNER and actor.role is not Role.OWNER:
            raise NotAllowedError("only an owner may change or remove an owner")

    def _keep_an_owner(self, tenant_id: str) -> None:
        owners = [m for m in self._store.members(tenant_id) if m.role is Role.OWNER]
        if len(owners) <= 1:
            raise ConflictError("the tenant's last owner stays: make another owner first")


def _may_grant(actor: Principal, role: Role) -> None:
    if role is Role.OWNER and actor.role is not Role.OWNER:
        raise NotAllowedError("only an owner may make owners")
    if not actor.role.allows(role):
        raise NotAllowedError(f"you may not grant {role.value}, above your own role")
    if not actor.role.allows(Role.ADMIN):
        raise NotAllowedError("managing members needs the admin role")
