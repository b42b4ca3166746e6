"""Issuing, rotating and revoking a device's credentials: the one path the
credentials routes, ``POST /api/v1/devices`` and ``wattline devices add`` share.

An MQTT password is also set in the broker (security mode); revoking it
disables the device's broker client, which closes a connected session.
The broker is changed first: if it refuses, nothing is stored and the old
credential still works, rather than a stored credential the broker ignores.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from wattline.security.device_credentials import (
    BrokerAccounts,
    BrokerSyncError,
    CredentialKind,
    DeviceCredential,
    IssuedCredential,
    issue,
    reserved_username,
    unusable_password,
)
from wattline.storage.ports import CredentialStore

# What a change is recorded through: ``AuditTrail.record`` (action, object, summary).
Record = Callable[[str, str, Mapping[str, Any]], None]


class ProvisioningError(Exception):
    """A credential that cannot be issued or changed; the message says why."""

    # the HTTP status the API answers with
    status_code = 409


class CredentialRefusedError(ProvisioningError):
    """Never issued for this device or kind."""

    status_code = 422


class NoSuchCredentialError(ProvisioningError):
    status_code = 404


class BrokerRefusedError(ProvisioningError):
    status_code = 503


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def sync_broker(
    broker: BrokerAccounts | None, change: str, device_id: str, password: str | None
) -> None:
    """Grant the device's broker account a password (None: disable it); no-op without
    broker security. BrokerRefusedError when the broker says no."""
    if broker is None:
        return
    try:
        if password is not None:
            broker.grant(device_id, password)
        else:
            broker.revoke(device_id)
    except BrokerSyncError as exc:
        raise BrokerRefusedError(f"the broker refused to {change}: {exc}") from exc


def has_active(store: CredentialStore, device_id: str, kind: CredentialKind, at_ms: int) -> bool:
    return any(c.kind is kind and c.active(at_ms) for c in store.device_credentials(device_id))


@dataclass(frozen=True, slots=True)
class DeviceKeys:
    """A tenant's view of its devices' credentials: the store, the broker, the audit log."""

    store: CredentialStore
    broker: BrokerAccounts | None  # None: security off, MQTT passwords are not offered
    tenant_id: str
    record: Record
    clock_ms: Callable[[], int] = now_ms

    def check(self, device_id: str, kinds: Iterable[CredentialKind]) -> None:
        """Raise if any of ``kinds`` cannot be issued to the device now: called before
        anything is changed, so a refused request changes nothing."""
        for kind in kinds:
            self._issuable(device_id, kind)
            if kind is CredentialKind.MQTT_PASSWORD and self._active_mqtt(device_id):
                raise ProvisioningError("the device has an MQTT password: rotate or revoke it")

    def issue(self, device_id: str, kind: CredentialKind) -> IssuedCredential:
        """A new credential; its secret is in the answer and nowhere else."""
        self.check(device_id, [kind])
        issued = self._new(device_id, kind)
        self._record("device_credential.create", issued.credential)
        return issued

    def rotate(self, device_id: str, credential_id: str) -> IssuedCredential:
        """A new secret of the same kind; the old credential is revoked at once."""
        old = self.active(device_id, credential_id)
        issued = self._new(device_id, old.kind)
        self.store.revoke_credential(device_id, credential_id, issued.credential.created_ms)
        self._record("device_credential.rotate", old)
        return issued

    def revoke(self, device_id: str, credential_id: str) -> None:
        old = self.active(device_id, credential_id)
        if old.kind is CredentialKind.MQTT_PASSWORD:
            if self._has_active(device_id, CredentialKind.CERTIFICATE):
                # The certificate still gets in, under the same broker client: only
                # the password goes, replaced by one nobody holds.
                self._sync("change the device's password", device_id, unusable_password())
            else:
                self._sync("disable the device's account", device_id, None)
        self.store.revoke_credential(device_id, credential_id, self.clock_ms())
        self._record("device_credential.revoke", old)

    def active(self, device_id: str, credential_id: str) -> DeviceCredential:
        now = self.clock_ms()
        for credential in self.store.device_credentials(device_id):
            if credential.credential_id == credential_id and credential.active(now):
                return credential
        raise NoSuchCredentialError(f"no active credential {credential_id!r} for {device_id!r}")

    def _issuable(self, device_id: str, kind: CredentialKind) -> None:
        if kind is CredentialKind.CERTIFICATE:
            raise CredentialRefusedError(
                "certificates are signed from a CSR: POST /api/v1/devices/{id}/certificates"
            )
        if kind is not CredentialKind.MQTT_PASSWORD:
            return
        if reserved_username(device_id):
            raise CredentialRefusedError(
                "device ids starting 'wattline-' are Wattline's own broker accounts"
            )
        if self.broker is None:
            raise ProvisioningError("MQTT passwords need broker security on (WATTLINE_SECURITY=on)")

    def _new(self, device_id: str, kind: CredentialKind) -> IssuedCredential:
        self._issuable(device_id, kind)
        issued = issue(kind, device_id, self.tenant_id, self.clock_ms())
        if kind is CredentialKind.MQTT_PASSWORD:
            self._sync("set the device's password", device_id, issued.secret)
        self.store.add_credential(issued.credential, issued.secret_hash)
        return issued

    def _sync(self, change: str, device_id: str, password: str | None) -> None:
        sync_broker(self.broker, change, device_id, password)

    def _active_mqtt(self, device_id: str) -> bool:
        return self._has_active(device_id, CredentialKind.MQTT_PASSWORD)

    def _has_active(self, device_id: str, kind: CredentialKind) -> bool:
        return has_active(self.store, device_id, kind, self.clock_ms())

    def _record(self, action: str, credential: DeviceCredential) -> None:
        self.record(
            action,
            f"device:{credential.device_id}",
            {"credential_id": credential.credential_id, "kind": credential.kind.value},
        )
