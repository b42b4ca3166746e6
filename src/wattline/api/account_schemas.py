"""Request and response bodies of the auth, users and API key routes.

Every string has a length limit: a login form is read before anyone is known,
so nothing in it may be large. The password limit matches the policy's
(``security/passwords.py``): argon2 reads the whole input.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from wattline.api.schemas import RequestBody
from wattline.security.passwords import MAX_PASSWORD_CHARS
from wattline.security.roles import Role

# RFC 5321: 64 for the local part, 255 for the domain. Checked loosely on purpose:
# the invitation or the login is the real test of an address.
Email = Annotated[str, StringConstraints(max_length=320, pattern=r"^[^@\s]{1,64}@[^@\s]{1,255}$")]
Password = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PASSWORD_CHARS)]
# 6 digits, or a recovery code (abcde-fghij), as people type them
Code = Annotated[str, StringConstraints(min_length=1, max_length=32)]
TenantId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
# wlr_/wli_/wl_ + 43 characters of base64url
OpaqueToken = Annotated[str, StringConstraints(min_length=1, max_length=128)]
DisplayName = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class LoginRequest(RequestBody):
    email: Email
    password: Password
    code: Code | None = Field(default=None, description="TOTP code or recovery code, when enabled")
    tenant_id: TenantId | None = Field(
        default=None, description="the tenant to act in; default: the first one joined"
    )


class RefreshRequest(RequestBody):
    refresh_token: OpaqueToken


class SwitchTenantRequest(RequestBody):
    tenant_id: TenantId
    refresh_token: OpaqueToken


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth 2 token type
    expires_in: int = Field(description="seconds the access token is valid")
    refresh_token: str = Field(description="single use: each refresh returns a new one")
    tenant_id: str
    role: Role


class PasswordChange(RequestBody):
    current_password: Password
    new_password: Password


class SessionsEnded(BaseModel):
    sessions_ended: int


class TotpEnrollOut(BaseModel):
    secret: str = Field(description="base32; shown once")
    otpauth_uri: str = Field(description="for a QR code")


class TotpCode(RequestBody):
    code: Code


class TotpDisable(RequestBody):
    password: Password
    code: Code


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(description="each works once; shown only now")


class TenantRole(BaseModel):
    tenant_id: str
    role: Role


class MeOut(BaseModel):
    kind: str = Field(description="user, api_key or bootstrap")
    subject: str
    display: str
    tenant_id: str = Field(description="the tenant this token acts in")
    role: Role
    email: str | None = None
    totp_enabled: bool | None = None
    tenants: list[TenantRole] = Field(description="every tenant of the user, with the role there")


class MemberOut(BaseModel):
    user_id: str
    email: str
    display_name: str | None
    role: Role
    joined_at: str


class MemberList(BaseModel):
    members: list[MemberOut]


class UserCreate(RequestBody):
    email: Email
    password: Password
    role: Role
    display_name: DisplayName | None = None


class RoleChange(RequestBody):
    role: Role


class InvitationCreate(RequestBody):
    email: Email
    role: Role


class InvitationOut(BaseModel):
    token: str = Field(description="send it to the invitee; shown once")
    email: str
    role: Role
    expires_at: str


class InvitationAccept(RequestBody):
    token: OpaqueToken
    password: Password = Field(
        description="a new password, or the existing account's when the email has one"
    )
    display_name: DisplayName | None = None


class ApiKeyCreate(RequestBody):
    name: DisplayName
    role: Role
    expires_at: AwareDatetime | None = None


class ApiKeyOut(BaseModel):
    key_id: str
    name: str
    prefix: str = Field(description="the key's first characters, to recognise it")
    role: Role
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    revoked_at: str | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="the key itself; shown only now")


class ApiKeyList(BaseModel):
    keys: list[ApiKeyOut]
