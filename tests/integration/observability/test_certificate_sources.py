"""Where the certificate-expiry metric reads from: the CA's files and the device store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from wattline.config import Settings
from wattline.runtime.certificates import expiry_sources
from wattline.security import device_credentials
from wattline.security.ca_files import CaFiles
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore

NOW = dt.datetime(2026, 12, 2, tzinfo=dt.UTC)
NOW_MS = int(NOW.timestamp() * 1000)
DAY_MS = 86_400_000


def add_certificate(store: SqlStore, device_id: str, expires_ms: int) -> str:
    credential = device_credentials.certificate(
        device_id, DEFAULT_TENANT, f"{device_id}-serial", NOW_MS, expires_ms
    )
    store.add_credential(credential, None)
    return credential.credential_id


def test_the_nearest_unrevoked_device_certificate_of_every_tenant(store: SqlStore) -> None:
    assert store.nearest_certificate_expiry_ms() is None
    soonest = add_certificate(store, "d1", NOW_MS + 5 * DAY_MS)
    add_certificate(store, "d2", NOW_MS + 300 * DAY_MS)
    store.add_credential(
        device_credentials.issue(
            device_credentials.CredentialKind.MQTT_PASSWORD, "d3", "other", NOW_MS, NOW_MS
        ).credential,
        "hash-of-d3",
    )
    assert store.nearest_certificate_expiry_ms() == NOW_MS + 5 * DAY_MS
    # renewed: the old certificate is revoked, so the next one counts
    assert store.revoke_credential("d1", soonest, NOW_MS)
    assert store.nearest_certificate_expiry_ms() == NOW_MS + 300 * DAY_MS


def test_the_ca_and_broker_certificates_are_read_from_their_files(
    tmp_path: Path, store: SqlStore
) -> None:
    settings = Settings(data_dir=tmp_path)
    sources = expiry_sources(settings, store)
    assert [sources[kind]() for kind in ("ca", "broker", "device")] == [None, None, None]

    files = CaFiles.in_data_dir(tmp_path)
    authority = files.init("Wattline test CA", NOW)
    files.ensure_broker_certificate(authority, "broker.test", NOW)
    add_certificate(store, "d1", NOW_MS + 7 * DAY_MS)
    ca_expiry = sources["ca"]()
    broker_expiry = sources["broker"]()
    assert ca_expiry == authority.certificate.not_valid_after_utc.timestamp()
    assert ca_expiry is not None
    assert broker_expiry is not None
    assert NOW.timestamp() < broker_expiry < ca_expiry
    assert sources["device"]() == (NOW_MS + 7 * DAY_MS) / 1000
