"""Devices' X.509 client certificates from Wattline's CA: sign a CSR, list, revoke; the CA's
certificate for anyone.

A device keeps its private key; it sends a CSR whose common name is its id and
gets back a certificate the broker's TLS listener accepts, under that id as its
MQTT username (so its dynamic-security ACLs apply). Revoking adds the serial to
the CRL the broker reloads, so the certificate is refused on its next
connection; without another credential the device's broker client is disabled
too, which closes an open session.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, Field

from wattline.api.deps import PUBLIC, AdminDep, AdminFirstRoute, PrincipalDep, ServicesDep
from wattline.api.provisioning import has_active
from wattline.api.routers.credentials import broker_sync, credential_store
from wattline.api.services import ApiServices
from wattline.model.times import iso_ms
from wattline.security import ca
from wattline.security.audit import AuditEvent
from wattline.security.device_credentials import (
    CredentialKind,
    DeviceCredential,
    certificate,
    unusable_password,
)
from wattline.security.principal import Principal
from wattline.storage.ports import CredentialStore

router = APIRouter(
    prefix="/api/v1/devices/{device_id}/certificates",
    tags=["certificates"],
    dependencies=[AdminDep],
    route_class=AdminFirstRoute,
)
ca_router = APIRouter(prefix="/api/v1", tags=["certificates"])

# A JSON body around the largest CSR Wattline parses (PEM escapes its newlines).
MAX_BODY_BYTES = 2 * ca.MAX_CSR_BYTES


class CertificateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    csr: str = Field(max_length=ca.MAX_CSR_BYTES, description="PEM, CN = the device id")


class CertificateOut(BaseModel):
    serial: str
    device_id: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None


class SignedCertificateOut(CertificateOut):
    certificate: str  # PEM
    ca_certificate: str  # PEM: what the device verifies the broker with


class CertificateList(BaseModel):
    certificates: list[CertificateOut]


def _out(credential: DeviceCredential) -> CertificateOut:
    return CertificateOut(
        serial=credential.certificate_serial or "",
        device_id=credential.device_id,
        created_at=iso_ms(credential.created_ms),
        expires_at=iso_ms(credential.expires_ms) if credential.expires_ms is not None else None,
        revoked_at=iso_ms(credential.revoked_ms) if credential.revoked_ms is not None else None,
    )


def _authority(services: ApiServices) -> ca.Authority:
    if services.authority is None:
        raise HTTPException(
            status.HTTP_501_NOT_IMPLEMENTED, "no CA: run `wattline ca init` and restart"
        )
    return services.authority


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
                summary={"credential_id": cred.credential_id, "serial": cred.certificate_serial},
            )
        )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    max_body_size=MAX_BODY_BYTES,
    responses={
        413: {"description": "body over 16 KiB"},
        501: {"description": "no CA in the data dir"},
        422: {
            "description": "not a CSR, a bad signature, a CN other than the device id, "
            "or a key other than EC P-256 or RSA of 2048 bits or more"
        },
    },
)
def sign_certificate(
    device_id: str,
    body: Annotated[CertificateRequest, Body()],
    services: ServicesDep,
    principal: PrincipalDep,
) -> SignedCertificateOut:
    """Sign the device's CSR: a client certificate for the broker's TLS listener."""
    store = credential_store(services, device_id, principal)
    authority = _authority(services)
    try:
        csr = ca.parse_csr(body.csr.encode(), device_id)
    except ca.CsrError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    now_ms = services.clock_ms()
    issued = ca.sign_client(authority, csr, dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC))
    if not has_active(store, device_id, CredentialKind.MQTT_PASSWORD, now_ms):
        # The broker's client for the certificate's CN; no password anyone holds.
        broker_sync(services, "let the device's certificate in", device_id, unusable_password())
    record = certificate(
        device_id,
        principal.tenant_id,
        issued.serial,
        now_ms,
        int(issued.not_after.timestamp() * 1000),
    )
    store.add_credential(record, None)
    _audit(services, principal, "device_certificate.sign", record)
    return SignedCertificateOut(
        **_out(record).model_dump(),
        certificate=issued.pem.decode(),
        ca_certificate=authority.certificate_pem().decode(),
    )


@router.get("")
def list_certificates(
    device_id: str, services: ServicesDep, principal: PrincipalDep
) -> CertificateList:
    """The device's certificates, revoked ones included."""
    store = credential_store(services, device_id, principal)
    return CertificateList(certificates=[_out(c) for c in _certificates(store, device_id)])


@router.delete("/{serial}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_certificate(
    device_id: str, serial: str, services: ServicesDep, principal: PrincipalDep
) -> None:
    """Revoked for good: on the CRL, refused on the device's next connection."""
    store = credential_store(services, device_id, principal)
    authority = _authority(services)
    now_ms = services.clock_ms()
    found = next(
        (
            c
            for c in _certificates(store, device_id)
            if c.certificate_serial == serial.lower() and c.active(now_ms)
        ),
        None,
    )
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no active certificate {serial!r} for {device_id!r}"
        )
    store.revoke_credential(device_id, found.credential_id, now_ms)
    publish_crl(services, store, authority)
    if not _still_admitted(store, device_id, now_ms):
        broker_sync(services, "disable the device's account", device_id)
    _audit(services, principal, "device_certificate.revoke", found)


def publish_crl(services: ApiServices, store: CredentialStore, authority: ca.Authority) -> None:
    """The CRL of every revoked certificate, to the broker."""
    if services.publish_crl is None:
        return
    revoked = [
        ca.Revoked(serial, dt.datetime.fromtimestamp(ms / 1000, dt.UTC))
        for serial, ms in store.revoked_certificates()
    ]
    now = dt.datetime.fromtimestamp(services.clock_ms() / 1000, dt.UTC)
    services.publish_crl(ca.revocation_list(authority, revoked, now))


def _certificates(store: CredentialStore, device_id: str) -> list[DeviceCredential]:
    return [c for c in store.device_credentials(device_id) if c.kind is CredentialKind.CERTIFICATE]


def _still_admitted(store: CredentialStore, device_id: str, now_ms: int) -> bool:
    """An active certificate or MQTT password keeps the device's broker client enabled."""
    return has_active(store, device_id, CredentialKind.CERTIFICATE, now_ms) or has_active(
        store, device_id, CredentialKind.MQTT_PASSWORD, now_ms
    )


@ca_router.get(
    "/ca.crt",
    dependencies=[PUBLIC],
    response_class=Response,
    responses={200: {"content": {"application/x-pem-file": {}}}, 404: {"description": "no CA"}},
)
def ca_certificate(services: ServicesDep) -> Response:
    """Wattline's CA certificate: devices verify the broker with it. Public, as a CA's is."""
    if services.authority is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no CA: run `wattline ca init`")
    return Response(services.authority.certificate_pem(), media_type="application/x-pem-file")
