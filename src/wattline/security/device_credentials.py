"""What a device proves itself with, and the broker that must agree. Pure.

A device holds an MQTT password (its username is its device id) and/or HTTP
ingest tokens. Each secret is 32 random bytes, handed out once; Wattline keeps
only its SHA-256 (256 bits of randomness need no slow hash). The broker keeps
its own salted hash of the MQTT password, set through ``BrokerAccounts``.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

# Recognisable in logs and by secret scanners ("wattline device").
HTTP_TOKEN_PREFIX = "wld_"  # noqa: S105 - a prefix, not a secret
# Broker usernames Wattline keeps for itself (collector, simulator, admin): a
# device with such an id could otherwise take over one of those accounts.
RESERVED_USERNAME_PREFIX = "wattline-"
_SECRET_BYTES = 32


class CredentialKind(StrEnum):
    MQTT_PASSWORD = "mqtt_password"  # noqa: S105 - a kind name
    HTTP_TOKEN = "http_token"  # noqa: S105 - a kind name
    CERTIFICATE = "certificate"  # X.509 from Wattline's CA (security/ca.py): signed, not issued


ISSUABLE_KINDS = frozenset({CredentialKind.MQTT_PASSWORD, CredentialKind.HTTP_TOKEN})


@dataclass(frozen=True, slots=True)
class DeviceCredential:
    """One credential as stored: never its secret."""

    credential_id: str
    device_id: str
    tenant_id: str
    kind: CredentialKind
    username: str | None  # the MQTT username (the device id); None for tokens
    created_ms: int
    expires_ms: int | None = None
    revoked_ms: int | None = None
    certificate_serial: str | None = None  # hex; certificates only

    def active(self, now_ms: int) -> bool:
        return self.revoked_ms is None and (self.expires_ms is None or now_ms < self.expires_ms)


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    """A new credential and its secret: the only moment the secret exists outside the device."""

    credential: DeviceCredential
    secret: str

    @property
    def secret_hash(self) -> str:
        return hash_secret(self.secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def certificate(
    device_id: str, tenant_id: str, serial: str, now_ms: int, expires_ms: int
) -> DeviceCredential:
    """The record of a certificate Wattline's CA signed for the device."""
    return DeviceCredential(
        credential_id=str(uuid.uuid4()),
        device_id=device_id,
        tenant_id=tenant_id,
        kind=CredentialKind.CERTIFICATE,
        username=device_id,
        created_ms=now_ms,
        expires_ms=expires_ms,
        certificate_serial=serial,
    )


def unusable_password() -> str:
    """A password nobody holds: a certificate-only device's broker client needs one."""
    return secrets.token_urlsafe(_SECRET_BYTES)


def reserved_username(device_id: str) -> bool:
    return device_id.startswith(RESERVED_USERNAME_PREFIX)


def issue(
    kind: CredentialKind,
    device_id: str,
    tenant_id: str,
    now_ms: int,
    expires_ms: int | None = None,
) -> IssuedCredential:
    """A fresh credential of ``kind`` for a device whose id has passed DEVICE_ID_RE."""
    if kind not in ISSUABLE_KINDS:
        raise ValueError(f"credentials of kind {kind} are not issued yet")
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    if kind is CredentialKind.HTTP_TOKEN:
        secret = HTTP_TOKEN_PREFIX + secret
    credential = DeviceCredential(
        credential_id=str(uuid.uuid4()),
        device_id=device_id,
        tenant_id=tenant_id,
        kind=kind,
        username=device_id if kind is CredentialKind.MQTT_PASSWORD else None,
        created_ms=now_ms,
        expires_ms=expires_ms,
    )
    return IssuedCredential(credential, secret)


class BrokerAccounts(Protocol):
    """The broker's accounts, kept in step with the devices' MQTT credentials.

    A device with a client certificate is known to the broker by the certificate's
    CN, its id: the same client, so the same ACLs. A device with a certificate and
    no MQTT password gets a client with a password nobody holds (``unusable_password``).
    """

    def grant(self, device_id: str, password: str) -> None:
        """The device may connect with this password (any earlier one stops working),
        publish to its own topics and subscribe to its own downlink."""
        ...

    def revoke(self, device_id: str) -> None:
        """The device may no longer connect; a connected session is closed."""
        ...


class BrokerSyncError(Exception):
    """The broker did not accept a change to its accounts; the message says why."""
