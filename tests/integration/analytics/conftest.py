"""Helpers for the analytics tests over a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from wattline.api.app import create_app
from wattline.api.services import ApiServices
from wattline.archive.folder import FolderArchive
from wattline.ingest.committer import Committer
from wattline.ingest.interpret import InterpretConfig
from wattline.live.window import RecentReadings
from wattline.model.messages import Reading
from wattline.observability.metrics import IngestMetrics
from wattline.storage.base import CommitBatch
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.series import iter_points
from wattline.storage.sql import SqlStore

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def app_client(store: SqlStore, window: RecentReadings | None = None) -> TestClient:
    services = ApiServices(
        store=store,
        admin_token=TOKEN,
        registry=CollectorRegistry(),
        offline_after_ms=120_000,
        window=window,
    )
    return TestClient(create_app(services))


def load(store: SqlStore, readings: list[Reading], device_type: str | None = None) -> None:
    devices = sorted({r.device_id for r in readings})
    for device_id in devices:
        store.register_device(device_id, device_type, 0, tenant_id=DEFAULT_TENANT)
    for i in range(0, len(readings), 5000):
        store.commit(CommitBatch(readings=readings[i : i + 5000]))


def samples(store: SqlStore) -> set[tuple[str, str, int, float]]:
    """Every stored (device, metric, ts, value)."""
    return {
        (device.device_id, metric, point.ts_ms, value)
        for device in store.list_devices(tenant_id=DEFAULT_TENANT)
        for point in iter_points(store, device.device_id, 0, 2**62)
        for metric, value in point.metrics.items()
    }


def make_committer(
    store: SqlStore,
    archive_dir: Path,
    *,
    auto_register: bool = True,
    window: RecentReadings | None = None,
) -> Committer:
    return Committer(
        store,
        FolderArchive(archive_dir),
        InterpretConfig(),
        IngestMetrics(CollectorRegistry()),
        auto_register=auto_register,
        on_committed=window.on_committed if window is not None else None,
    )


@pytest.fixture
def client(store: SqlStore) -> Iterator[TestClient]:
    with app_client(store) as test_client:
        yield test_client
