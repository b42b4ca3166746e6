"""Devices' credentials: issue (the secret is shown once), list, rotate, revoke.

An MQTT password is also set in the broker (security mode); revoking it
disables the device's broker client, which closes a connected session.
The broker is changed first: if it refuses, nothing is stored and the old
credential still works, rather than a stored credential the broker ignores.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, status
from pydantic import BaseModel, ConfigDict

from wattline.api.deps import AdminDep, AdminFirstRoute, PrincipalDep, ServicesDep
from wattline.api.services import ApiServices
from wattline.model.times import iso_ms
from wattline.protocols.validation import DEVICE_ID_RE
from wattline.security.audit import AuditEvent
from wattline.security.device_credentials import (
    BrokerSyncError,
    CredentialKind,
    DeviceCredential,
    IssuedCredential,
    issue,
    reserved_username,
    unusable_password,
)
from wattline.security.principal import Principal
from wattline.storage.ports import CredentialStore

router = APIRouter(
    prefix="/api/v1/devices/{device_id}/credentials",
    tags=["credentials"],
    dependencies=[AdminDep],
    route_class=AdminFirstRoute,
)


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


def _out(credential: DeviceCredential) -> CredentialOut:
    return CredentialOut(
        credential_id=credential.credential_id,
        device_id=credential.device_id,
        kind=credential.kind,
        username=credential.username,
        created_at=iso_ms(credential.created_ms),
        expires_at=iso_ms(credential.expires_ms) if credential.expires_ms is not None else None,
        revoked_at=iso_ms(credential.revoked_ms) if credential.revoked_ms is not None else None,
    )


def _issued_out(issued: IssuedCredential) -> IssuedCredentialOut:
    return IssuedCredentialOut(**_out(issued.credential).model_dump(), secret=issued.secret)


def credential_store(
    services: ApiServices, device_id: str, principal: Principal
) -> CredentialStore:
    if services.credentials is None:
        raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, "device credentials are not offered")
    # Checked before the lookup: PostgreSQL refuses a NUL in a text parameter (a 500).
    # Another tenant's device answers as a missing one.
    if (
        not DEVICE_ID_RE.fullmatch(device_id)
        or services.store.get_device(device_id, tenant_id=principal.tenant_id) is None
    ):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown device {device_id!r}")
    return services.credentials


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def broker_sync(
    services: ApiServices, change: str, device_id: str, password: str | None = None
) -> None:
    accounts = services.broker_accounts
    if accounts is None:
        return
    try:
        if password is not None:
            accounts.grant(device_id, password)
        else:
            accounts.revoke(device_id)
    except BrokerSyncError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"the broker refused to {change}: {exc}"
        ) from exc


def _audit(
    services: ApiServices, principal: Principal, action: str, cred: DeviceCredential
) -> None:
    if services.audit is not None:
        services.audit.record(
            AuditEvent(
                action=action,
                actor=principal.display,
                object=f"device:{cred.device_id}",
                tenant_id=principal.tenant_id,
                summary={"credential_id": cred.credential_id, "kind": cred.kind.value},
            )
        )


def _issue(
    services: ApiServices, principal: Principal, kind: CredentialKind, device_id: str
) -> IssuedCredential:
    if kind is CredentialKind.CERTIFICATE:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "certificates are signed from a CSR: POST /api/v1/devices/{id}/certificates",
        )
    if kind is CredentialKind.MQTT_PASSWORD:
        if reserved_username(device_id):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "device ids starting 'wattline-' are Wattline's own broker accounts",
            )
        if services.broker_accounts is None:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                "MQTT passwords need broker security on (WATTLINE_SECURITY=on)",
            )
    return issue(kind, device_id, principal.tenant_id, _now_ms())


@router.post("", status_code=status.HTTP_201_CREATED)
def create_credential(
    device_id: str,
    body: Annotated[CredentialCreate, Body()],
    services: ServicesDep,
    principal: PrincipalDep,
) -> IssuedCredentialOut:
    """A new credential; its secret is in this answer and never again.
    A device has one MQTT password at a time: rotate it to replace it."""
    store = credential_store(services, device_id, principal)
    if body.kind is CredentialKind.MQTT_PASSWORD and _active_mqtt(store, device_id):
        raise HTTPException(
            status.HTTP_409_CONFLICT, "the device has an MQTT password: rotate or revoke it"
        )
    issued = _issue(services, principal, body.kind, device_id)
    if body.kind is CredentialKind.MQTT_PASSWORD:
        broker_sync(services, "create the device's account", device_id, issued.secret)
    store.add_credential(issued.credential, issued.secret_hash)
    _audit(services, principal, "device_credential.create", issued.credential)
    return _issued_out(issued)


@router.get("")
def list_credentials(
    device_id: str, services: ServicesDep, principal: PrincipalDep
) -> CredentialList:
    """The device's credentials, revoked ones included; never a secret."""
    store = credential_store(services, device_id, principal)
    return CredentialList(credentials=[_out(c) for c in store.device_credentials(device_id)])


@router.post("/{credential_id}/rotate", status_code=status.HTTP_201_CREATED)
def rotate_credential(
    device_id: str, credential_id: str, services: ServicesDep, principal: PrincipalDep
) -> IssuedCredentialOut:
    """A new secret of the same kind; the old credential is revoked at once
    (an MQTT session using it is disconnected)."""
    store = credential_store(services, device_id, principal)
    old = _active(store, device_id, credential_id)
    issued = _issue(services, principal, old.kind, device_id)
    if old.kind is CredentialKind.MQTT_PASSWORD:
        broker_sync(services, "change the device's password", device_id, issued.secret)
    store.add_credential(issued.credential, issued.secret_hash)
    store.revoke_credential(device_id, credential_id, issued.credential.created_ms)
    _audit(services, principal, "device_credential.rotate", old)
    return _issued_out(issued)


@router.delete("/{credential_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_credential(
    device_id: str, credential_id: str, services: ServicesDep, principal: PrincipalDep
) -> None:
    """Revoked for good; an MQTT session using it is disconnected."""
    store = credential_store(services, device_id, principal)
    old = _active(store, device_id, credential_id)
    now_ms = _now_ms()
    if old.kind is CredentialKind.MQTT_PASSWORD:
        if has_active(store, device_id, CredentialKind.CERTIFICATE, now_ms):
            # The certificate still gets in, under the same client: only the password goes.
            broker_sync(services, "change the device's password", device_id, unusable_password())
        else:
            broker_sync(services, "disable the device's account", device_id)
    store.revoke_credential(device_id, credential_id, now_ms)
    _audit(services, principal, "device_credential.revoke", old)


def _active(store: CredentialStore, device_id: str, credential_id: str) -> DeviceCredential:
    now_ms = _now_ms()
    for credential in store.device_credentials(device_id):
        if credential.credential_id == credential_id and credential.active(now_ms):
            return credential
    raise HTTPException(
        status.HTTP_404_NOT_FOUND, f"no active credential {credential_id!r} for {device_id!r}"
    )


def _active_mqtt(store: CredentialStore, device_id: str) -> bool:
    return has_active(store, device_id, CredentialKind.MQTT_PASSWORD, _now_ms())


def has_active(store: CredentialStore, device_id: str, kind: CredentialKind, now_ms: int) -> bool:
    return any(c.kind is kind and c.active(now_ms) for c in store.device_credentials(device_id))
