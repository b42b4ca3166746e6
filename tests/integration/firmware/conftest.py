"""A firmware service over a real store (SQLite and PostgreSQL), a folder for images,
an injected clock, and a publisher that records what it would send."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from tests.integration.security.tenants import ADMIN_TOKEN, PRINCIPALS, FixedTokens

from wattline.api.app import create_app
from wattline.api.services import ApiServices
from wattline.archive.blobs import FolderBlobs
from wattline.firmware.download_links import DownloadLinks
from wattline.firmware.runner import CampaignRunner
from wattline.firmware.service import FirmwareService
from wattline.firmware.signing import FirmwareSigner
from wattline.model.messages import Hello
from wattline.storage.audit_sink import StoreAuditSink
from wattline.storage.base import CommitBatch
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore
from wattline.storage.sql.audit import SqlAuditStore
from wattline.storage.sql.firmware import SqlFirmware
from wattline.storage.sql.leases import SqlLeases

T0 = 1_800_000_000_000
SECRET = b"s" * 32


@dataclass
class Clock:
    now_ms: int = T0

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, ms: int) -> None:
        self.now_ms += ms


@dataclass
class RecordingPublisher:
    sent: list[tuple[str, dict[str, object]]] = field(default_factory=list)

    def send(self, device_id: str, instruction: Mapping[str, object]) -> None:
        self.sent.append((device_id, dict(instruction)))


@dataclass
class Ota:
    store: SqlStore
    firmware: FirmwareService
    runner: CampaignRunner
    publisher: RecordingPublisher
    clock: Clock
    audit_log: SqlAuditStore
    client: TestClient


def add_devices(
    store: SqlStore, ids: list[str], device_type: str, firmware: str, tenant: str = DEFAULT_TENANT
) -> None:
    for device_id in ids:
        store.register_device(device_id, device_type, T0, ["lab"], tenant_id=tenant)
    store.commit(CommitBatch(hellos=[Hello(d, device_type, firmware) for d in ids]))


@pytest.fixture
def ota(store: SqlStore, tmp_path: Path) -> Iterator[Ota]:
    clock = Clock()
    links = DownloadLinks(SECRET, "http://wattline.test")
    firmware = FirmwareService(
        SqlFirmware(store.engine),
        FolderBlobs(tmp_path / "blobs"),
        FirmwareSigner.in_directory(tmp_path / "firmware"),
        links,
        store,
        clock,
        max_artifact_bytes=64 * 1024,
    )
    publisher = RecordingPublisher()
    runner = CampaignRunner(
        SqlFirmware(store.engine),
        publisher,
        links,
        clock,
        leases=SqlLeases(store.engine, clock),
        holder="test",
    )
    registry = CollectorRegistry()
    audit_log = SqlAuditStore(store.engine)
    services = ApiServices(
        store=store,
        admin_token=ADMIN_TOKEN,
        registry=registry,
        offline_after_ms=120_000,
        authenticator=FixedTokens(PRINCIPALS),
        audit=StoreAuditSink(audit_log, registry),
        audit_log=audit_log,
        firmware=firmware,
        clock_ms=clock,
    )
    with TestClient(create_app(services)) as client:
        yield Ota(store, firmware, runner, publisher, clock, audit_log, client)
