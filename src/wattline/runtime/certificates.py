"""Wattline's CA at start: loaded from the data dir when ``wattline ca init`` made one.

With security on and a CA, the embedded Mosquitto gets a mutual-TLS listener
(WATTLINE_MQTT_TLS_PORT, 8883) with a server certificate the CA issues for
WATTLINE_HOST, and the CRL, which is written again from the store at each start
and at each revocation, then re-read by the broker (SIGHUP).
"""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Callable
from pathlib import Path

from cryptography import x509

from wattline.broker.mosquitto import MosquittoBroker, TlsListener
from wattline.config import Settings
from wattline.observability.certificates import ExpirySource
from wattline.security import ca
from wattline.security.ca_files import CaFiles
from wattline.storage.ports import CredentialStore
from wattline.storage.sql import SqlStore

# A wildcard bind address names no host a device could verify.
_ANY_ADDRESS = {"0.0.0.0", "::", ""}  # noqa: S104 - compared, not bound


def ca_files(settings: Settings) -> CaFiles:
    return CaFiles.in_data_dir(settings.data_dir)


def load_authority(settings: Settings) -> ca.Authority | None:
    files = ca_files(settings)
    return files.load() if files.exists() else None


def tls_listener(settings: Settings) -> TlsListener | None:
    """The TLS listener's files, the broker's certificate issued when due; None without a CA."""
    authority = load_authority(settings)
    if authority is None:
        return None
    files = ca_files(settings)
    host = socket.getfqdn() if settings.host in _ANY_ADDRESS else settings.host
    files.ensure_broker_certificate(authority, host, dt.datetime.now(dt.UTC))
    return TlsListener(
        port=settings.mqtt_tls_port,
        cafile=files.certificate,
        certfile=files.broker_certificate,
        keyfile=files.broker_key,
        crlfile=files.crl,
    )


def crl_publisher(settings: Settings, broker: object) -> Callable[[bytes], None]:
    """Writes the CRL where the broker reads it; an embedded Mosquitto re-reads it at once.

    An external broker reads it at its next reload (docs/operations.md).
    """
    files = ca_files(settings)

    def publish(crl_pem: bytes) -> None:
        files.write_crl(crl_pem)
        if isinstance(broker, MosquittoBroker):
            broker.reload()

    return publish


def current_crl(authority: ca.Authority, store: CredentialStore) -> bytes:
    revoked = [
        ca.Revoked(serial, dt.datetime.fromtimestamp(ms / 1000, dt.UTC))
        for serial, ms in store.revoked_certificates()
    ]
    return ca.revocation_list(authority, revoked, dt.datetime.now(dt.UTC))


def expiry_sources(settings: Settings, store: SqlStore) -> dict[str, ExpirySource]:
    """Where each kind of certificate's expiry is read, for ``wattline_certificate_expiry_*``:
    the CA's and the broker's from their files (re-read, so a renewal shows), the
    devices' from the store."""
    files = ca_files(settings)

    def device() -> float | None:
        expires_ms = store.nearest_certificate_expiry_ms()
        return None if expires_ms is None else expires_ms / 1000

    return {
        "ca": lambda: _not_after(files.certificate),
        "broker": lambda: _not_after(files.broker_certificate),
        "device": device,
    }


def _not_after(path: Path) -> float | None:
    if not path.exists():
        return None
    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    return certificate.not_valid_after_utc.timestamp()
