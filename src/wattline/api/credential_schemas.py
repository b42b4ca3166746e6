"""Devices' credentials as the API shows them: never a secret, except once when issued."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

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


class CommandKeyOut(BaseModel):
    """A public key the device verifies Wattline's command envelopes with (docs/commands.md)."""

    key_id: str
    algorithm: str
    public_key: str  # raw, base64


class IssuedCredentialOut(CredentialOut):
    # shown once: Wattline keeps only its SHA-256
    secret: str
    # the tenant's command keys, for the device to keep beside its credential
    command_keys: list[CommandKeyOut] = Field(default_factory=list)


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


def issued_out(
    issued: IssuedCredential, command_keys: Sequence[CommandKeyOut] = ()
) -> IssuedCredentialOut:
    return IssuedCredentialOut(
        **credential_out(issued.credential).model_dump(),
        secret=issued.secret,
        command_keys=list(command_keys),
    )
