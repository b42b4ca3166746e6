"""Devices' credentials as the API shows them: never a secret, except once when issued."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from wattline.model.times import iso_ms
from wattline.security.device_credentials import CredentialKind, DeviceCredential, IssuedCredential


class CredentialCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: CredentialKind


class CredentialOut(BaseModel):
    credential_id: str
    device_id: str
    kind: CredentialKind
    username: str | None
    created_at: str
    expires_at: str | None
    revoked_at: str | None


class IssuedCredentialOut(CredentialOut):
    # shown once: Wattline keeps only its SHA-256
    secret: str


class CredentialList(BaseModel):
    credentials: list[CredentialOut]


def credential_out(credential: DeviceCredential) -> CredentialOut:
    return CredentialOut(
        credential_id=credential.credential_id,
        device_id=credential.device_id,
        kind=credential.kind,
        username=credential.username,
        created_at=iso_ms(credential.created_ms),
        expires_at=iso_ms(credential.expires_ms) if credential.expires_ms is not None else None,
        revoked_at=iso_ms(credential.revoked_ms) if credential.revoked_ms is not None else None,
    )


def issued_out(issued: IssuedCredential) -> IssuedCredentialOut:
    return IssuedCredentialOut(
        **credential_out(issued.credential).model_dump(), secret=issued.secret
    )
