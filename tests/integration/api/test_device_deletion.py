"""DELETE /api/v1/devices/{id}: nothing of the device lingers; archive keeps every row."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import Table, func, select

from wattline.api.app import create_app
from wattline.api.services import ApiServices
from wattline.model.messages import Hello, Reading
from wattline.storage import schema
from wattline.storage.base import CommitBatch
from wattline.storage.device_removal import DEVICE_DATA_TABLES, DEVICE_KEPT_TABLES, DEVICE_TABLES
from wattline.storage.sql import SqlStore

AUTH = {"Authorization": "Bearer t"}
T0 = 1_764_057_600_000


def fill(store: SqlStore, device: str) -> None:
    readings = [
        Reading(device, T0 + i * 30_000, {"power_w": float(i), "energy_wh": float(i)}, i)
        for i in range(240)  # two hours: every tier gets rows
    ]
    store.commit(
        CommitBatch(
            readings=readings,
            hellos=[Hello(device, "smart_plug", "1.0", ())],
            seen_ms={device: T0},
            register=[device],
        )
    )
    # and one reading committed staged, not yet folded (ADR 0033)
    store.stage(
        CommitBatch(
            readings=[Reading(device, T0 + 240 * 30_000, {"power_w": 1.0}, 240)],
            seen_ms={device: T0},
        )
    )


def rows_of(store: SqlStore, table: Table, device: str) -> int:
    with store.engine.connect() as conn:
        query = select(func.count()).select_from(table).where(table.c.device_id == device)
        return int(conn.execute(query).scalar_one())


def client_for(store: SqlStore, tmp_path: Path, forgotten: list[str]) -> TestClient:
    services = ApiServices(
        store=store,
        admin_token="t",
        registry=CollectorRegistry(),
        offline_after_ms=120_000,
        deleted_devices_dir=tmp_path / "deleted",
        forget_device=forgotten.append,
    )
    return TestClient(create_app(services))


def test_every_device_keyed_table_is_covered() -> None:
    keyed = {t.name for t in schema.metadata.sorted_tables if "device_id" in t.c}
    removed = {t.name for t in DEVICE_TABLES if t.metadata is schema.metadata}
    assert keyed == removed | {t.name for t in DEVICE_KEPT_TABLES}
    # samples is a view of sample_rows, which are removed through the device's series
    assert {t.name for t in DEVICE_TABLES} - removed == {"samples"}


def test_delete_removes_everything_and_keeps_other_devices(store: SqlStore, tmp_path: Path) -> None:
    fill(store, "gone")
    fill(store, "kept")
    forgotten: list[str] = []
    with client_for(store, tmp_path, forgotten) as api:
        response = api.delete("/api/v1/devices/gone", params={"samples": "delete"}, headers=AUTH)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["archived_to"] is None
        assert body["removed"]["samples"] == 480
        assert body["removed"]["devices"] == 1
        assert api.get("/api/v1/devices/gone", headers=AUTH).status_code == 404
        again = api.delete("/api/v1/devices/gone", params={"samples": "delete"}, headers=AUTH)
        assert again.status_code == 404
    assert forgotten == ["gone"]
    assert all(rows_of(store, table, "gone") == 0 for table in DEVICE_TABLES)
    kept = (*DEVICE_DATA_TABLES, schema.staged, schema.devices)
    assert all(rows_of(store, table, "kept") > 0 for table in kept)


def test_archive_writes_every_row_before_deleting(store: SqlStore, tmp_path: Path) -> None:
    fill(store, "old-meter")
    counts = {table.name: rows_of(store, table, "old-meter") for table in DEVICE_TABLES}
    with client_for(store, tmp_path, []) as api:
        body = api.delete(
            "/api/v1/devices/old-meter", params={"samples": "archive"}, headers=AUTH
        ).json()
    folder = Path(body["archived_to"])
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["rows"] == counts
    samples = pq.read_table(folder / "samples.parquet").to_pylist()
    assert len(samples) == 480
    assert {row["device_id"] for row in samples} == {"old-meter"}
    assert pq.read_table(folder / "rollup_1h.parquet").num_rows == counts["rollup_1h"]
    assert all(rows_of(store, table, "old-meter") == 0 for table in DEVICE_TABLES)


def test_the_request_must_say_what_happens_to_the_data(store: SqlStore, tmp_path: Path) -> None:
    fill(store, "d1")
    with client_for(store, tmp_path, []) as api:
        missing = api.delete("/api/v1/devices/d1", headers=AUTH)
        assert missing.status_code == 422
        wrong = api.delete("/api/v1/devices/d1", params={"samples": "keep"}, headers=AUTH)
        assert wrong.status_code == 422
    assert rows_of(store, schema.samples, "d1") == 240 * 2
