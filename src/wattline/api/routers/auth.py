"""``/api/v1/auth``: login, refresh, logout, password, TOTP, who am I, switch tenant.

Login and refresh are the unauthenticated routes (``public``); everything else
needs a token and names the role it needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status

from wattline.api.account_schemas import (
    LoginRequest,
    MeOut,
    PasswordChange,
    RecoveryCodesOut,
    RefreshRequest,
    SessionsEnded,
    SwitchTenantRequest,
    TenantRole,
    TokenOut,
    TotpCode,
    TotpDisable,
    TotpEnrollOut,
)
from wattline.api.deps import PUBLIC, AdminFirstRoute, IdentityDep, require_role
from wattline.security.accounts import Session
from wattline.security.principal import Principal, PrincipalKind
from wattline.security.roles import Role
from wattline.security.tokens import AccessClaims

PREFIX = "/api/v1/auth"
public = APIRouter(prefix=PREFIX, tags=["auth"], dependencies=[PUBLIC])
router = APIRouter(prefix=PREFIX, tags=["auth"], route_class=AdminFirstRoute)

AnyMember = Annotated[Principal, require_role(Role.VIEWER)]
_REFUSED: dict[int | str, dict[str, Any]] = {
    401: {"description": "wrong credentials, or a second factor is needed"}
}


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def token_out(session: Session) -> TokenOut:
    return TokenOut(
        access_token=session.access_token,
        expires_in=session.expires_in_s,
        refresh_token=session.refresh_token,
        tenant_id=session.tenant_id,
        role=session.role,
    )


@dataclass(frozen=True, slots=True)
class UserSession:
    principal: Principal
    claims: AccessClaims


def user_session(request: Request, principal: AnyMember, identity: IdentityDep) -> UserSession:
    """The caller's login session: only a user's access token has one."""
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    claims = identity.authenticator.access_claims(bearer.strip())
    if principal.kind is not PrincipalKind.USER or scheme.lower() != "bearer" or claims is None:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "this needs a user's access token, not an API key"
        )
    return UserSession(principal, claims)


SessionDep = Annotated[UserSession, Depends(user_session)]


@public.post("/login", responses={**_REFUSED, 429: {"description": "too many failed logins"}})
def login(body: LoginRequest, request: Request, identity: IdentityDep) -> TokenOut:
    """Email and password (and a TOTP or recovery code when enabled) for a 15-minute
    access token and a single-use refresh token."""
    session = identity.accounts.login(
        body.email, body.password, client_address(request), body.code, body.tenant_id
    )
    return token_out(session)


@public.post("/refresh", responses=_REFUSED)
def refresh(body: RefreshRequest, request: Request, identity: IdentityDep) -> TokenOut:
    """A new token pair; the refresh token sent is spent. Sending a spent one again
    ends the whole session (someone else holds a copy)."""
    return token_out(identity.accounts.refresh(body.refresh_token, client_address(request)))


@router.post("/switch-tenant")
def switch_tenant(body: SwitchTenantRequest, caller: SessionDep, identity: IdentityDep) -> TokenOut:
    """Move this session to another tenant the user belongs to: a new token pair."""
    session = identity.accounts.refresh(
        body.refresh_token, tenant_id=body.tenant_id, session_id=caller.claims.session_id
    )
    return token_out(session)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(caller: SessionDep, identity: IdentityDep) -> None:
    """End this session: its refresh token and access tokens stop working now."""
    identity.accounts.logout(caller.claims.session_id, caller.principal.display)


@router.post("/logout-all")
def logout_all(caller: SessionDep, identity: IdentityDep) -> SessionsEnded:
    """End every session of this user, this one included."""
    ended = identity.accounts.logout_all(caller.principal.subject, caller.principal.display)
    return SessionsEnded(sessions_ended=ended)


@router.post("/password")
def change_password(
    body: PasswordChange, caller: SessionDep, identity: IdentityDep
) -> SessionsEnded:
    """Set a new password; every other session of the user ends."""
    ended = identity.accounts.change_password(
        caller.principal.subject, caller.claims.session_id, body.current_password, body.new_password
    )
    return SessionsEnded(sessions_ended=ended)


@router.post("/totp/enroll")
def totp_enroll(caller: SessionDep, identity: IdentityDep) -> TotpEnrollOut:
    """A new TOTP secret for an authenticator app; required once confirmed."""
    enrollment = identity.accounts.enroll_totp(caller.principal.subject)
    return TotpEnrollOut(secret=enrollment.secret, otpauth_uri=enrollment.uri)


@router.post("/totp/confirm")
def totp_confirm(body: TotpCode, caller: SessionDep, identity: IdentityDep) -> RecoveryCodesOut:
    """Turn TOTP on with a first code from the app; answers the ten recovery codes."""
    codes = identity.accounts.confirm_totp(caller.principal.subject, body.code)
    return RecoveryCodesOut(recovery_codes=codes)


@router.post("/totp/disable", status_code=status.HTTP_204_NO_CONTENT)
def totp_disable(body: TotpDisable, caller: SessionDep, identity: IdentityDep) -> None:
    """Turn TOTP off: the password and a current code (or a recovery code)."""
    identity.accounts.disable_totp(caller.principal.subject, body.password, body.code)


@router.get("/me")
def me(principal: AnyMember, identity: IdentityDep) -> MeOut:
    """Who this token stands for, and for a user every tenant with the role there."""
    out = MeOut(
        kind=principal.kind.value,
        subject=principal.subject,
        display=principal.display,
        tenant_id=principal.tenant_id,
        role=principal.role,
        tenants=[TenantRole(tenant_id=principal.tenant_id, role=principal.role)],
    )
    if principal.kind is not PrincipalKind.USER:
        return out
    user = identity.accounts.user(principal.subject)
    memberships = identity.accounts.store.memberships_of(principal.subject)
    return out.model_copy(
        update={
            "email": user.email,
            "totp_enabled": user.totp_enabled,
            "tenants": [TenantRole(tenant_id=m.tenant_id, role=m.role) for m in memberships],
        }
    )
