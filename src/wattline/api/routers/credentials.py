"""Devices' credentials: issue (the secret is shown once), list, rotate, revoke.

The work is ``api.provisioning.DeviceKeys``, shared with device registration
and ``wattline devices add``; these routes find the device and map refusals
to HTTP answers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, status

from wattline.api.audit_trail import AuditDep, AuditTrail
from wattline.api.command_schemas import provisioning_keys
from wattline.api.credential_schemas import (
    CredentialCreate,
    CredentialList,
    IssuedCredentialOut,
    credential_out,
    issued_out,
)
from wattline.api.deps import AdminDep, AdminFirstRoute, PrincipalDep, ServicesDep
from wattline.api.provisioning import DeviceKeys, ProvisioningError, sync_broker
from wattline.api.services import ApiServices
from wattline.protocols.validation import DEVICE_ID_RE
from wattline.security.principal import Principal
from wattline.storage.ports import CredentialStore

router = APIRouter(
    prefix="/api/v1/devices/{device_id}/credentials",
    tags=["credentials"],
    dependencies=[AdminDep],
    route_class=AdminFirstRoute,
)


def device_keys(services: ApiServices, principal: Principal, audit: AuditTrail) -> DeviceKeys:
    if services.credentials is None:
        raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, "device credentials are not offered")
    return DeviceKeys(
        services.credentials, services.broker_accounts, principal.tenant_id, audit.record
    )


@contextlib.contextmanager
def answered() -> Iterator[None]:
    """A refusal from ``DeviceKeys`` as the HTTP answer its kind calls for."""
    try:
        yield
    except ProvisioningError as exc:
        raise HTTPException(exc.status_code, str(exc)) from exc


def _keys(
    services: ApiServices, device_id: str, principal: Principal, audit: AuditTrail
) -> DeviceKeys:
    keys = device_keys(services, principal, audit)
    _check_device(services, device_id, principal)
    return keys


def _check_device(services: ApiServices, device_id: str, principal: Principal) -> None:
    # Checked before the lookup: PostgreSQL refuses a NUL in a text parameter (a 500).
    # Another tenant's device answers as a missing one.
    if (
        not DEVICE_ID_RE.fullmatch(device_id)
        or services.store.get_device(device_id, tenant_id=principal.tenant_id) is None
    ):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown device {device_id!r}")


@router.post("", status_code=status.HTTP_201_CREATED)
def create_credential(
    device_id: str,
    body: Annotated[CredentialCreate, Body()],
    services: ServicesDep,
    principal: PrincipalDep,
    audit: AuditDep,
) -> IssuedCredentialOut:
    """A new credential; its secret is in this answer and never again.
    A device has one MQTT password at a time: rotate it to replace it."""
    keys = _keys(services, device_id, principal, audit)
    with answered():
        return issued_out(
            keys.issue(device_id, body.kind),
            provisioning_keys(services.commands, principal.tenant_id),
        )


@router.get("")
def list_credentials(
    device_id: str, services: ServicesDep, principal: PrincipalDep, audit: AuditDep
) -> CredentialList:
    """The device's credentials, revoked ones included; never a secret."""
    keys = _keys(services, device_id, principal, audit)
    return CredentialList(
        credentials=[credential_out(c) for c in keys.store.device_credentials(device_id)]
    )


@router.post("/{credential_id}/rotate", status_code=status.HTTP_201_CREATED)
def rotate_credential(
    device_id: str,
    credential_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    audit: AuditDep,
) -> IssuedCredentialOut:
    """A new secret of the same kind; the old credential is revoked at once
    (an MQTT session using it is disconnected)."""
    keys = _keys(services, device_id, principal, audit)
    with answered():
        return issued_out(
            keys.rotate(device_id, credential_id),
            provisioning_keys(services.commands, principal.tenant_id),
        )


@router.delete("/{credential_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_credential(
    device_id: str,
    credential_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    audit: AuditDep,
) -> None:
    """Revoked for good; an MQTT session using it is disconnected."""
    keys = _keys(services, device_id, principal, audit)
    with answered():
        keys.revoke(device_id, credential_id)


# -- for the certificates router, which keeps its own flow -------------------


def credential_store(
    services: ApiServices, device_id: str, principal: Principal
) -> CredentialStore:
    """The credential store, once the device is the caller's (404 otherwise)."""
    if services.credentials is None:
        raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, "device credentials are not offered")
    _check_device(services, device_id, principal)
    return services.credentials


def broker_sync(
    services: ApiServices, change: str, device_id: str, password: str | None = None
) -> None:
    """Grant (a password) or revoke the device's broker account; 503 if the broker refuses."""
    with answered():
        sync_broker(services.broker_accounts, change, device_id, password)
