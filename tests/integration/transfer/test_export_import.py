"""Export -> import round trips, the streamed API export, and import's validation."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from tests.integration.analytics.conftest import AUTH, app_client, load, make_committer, samples
from tests.integration.archive.conftest import S3Server
from typer.testing import CliRunner

from wattline.archive.s3 import open_s3_client
from wattline.cli.main import app as cli_app
from wattline.model.messages import Reading
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore
from wattline.storage.sqlite import open_sqlite_store
from wattline.transfer.export import ExportFormat, export_to, plan_export
from wattline.transfer.importer import import_readings, read_file

T0 = 1_764_057_600_000  # 2025-11-25T08:00:00Z, a Tuesday
H_MS = 3_600_000


def fleet_readings() -> list[Reading]:
    plug = [
        Reading("plug-1", T0 + i * 60_000, {"power_w": 0.1 * i + 0.2, "energy_wh": 1e6 + i / 3})
        for i in range(250)
    ]
    meter = [
        Reading("meter-1", T0 + i * 90_000, {"power_w": -1234.5678 * i, "voltage_v": 749.9})
        for i in range(170)
    ]
    return plug + meter


@pytest.fixture
def target(tmp_path: Path) -> Iterator[SqlStore]:
    fresh = open_sqlite_store(tmp_path / "target.db")
    yield fresh
    fresh.close()


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_round_trip_equals_the_stored_data(
    store: SqlStore, target: SqlStore, tmp_path: Path, fmt: ExportFormat
) -> None:
    load(store, fleet_readings())
    # a small page, so the export really streams in many pieces
    spec = plan_export(store, T0, T0 + 10 * H_MS, page=37)
    assert spec.metrics == ("energy_wh", "power_w", "voltage_v")
    progress: list[int] = []
    path = Path(export_to(store, spec, fmt, str(tmp_path / "out"), progress=progress.append))
    assert sum(progress) == spec.span_ms
    summary = import_readings(read_file(path), make_committer(target, tmp_path / "archive"), "iot")
    assert summary.rejected == {}
    assert summary.readings == 420
    assert samples(target) == samples(store)


def test_parquet_rows_are_ready_for_training(store: SqlStore, tmp_path: Path) -> None:
    load(store, fleet_readings())
    spec = plan_export(store, T0, T0 + H_MS, ["meter-1"])
    table = pq.read_table(export_to(store, spec, ExportFormat.PARQUET, str(tmp_path)))
    assert table.schema.names == [
        "device_id",
        "timestamp",
        "power_w",
        "voltage_v",
        "day_of_week",
        "hour_of_day",
    ]
    assert table.schema.field("timestamp").type == pa.timestamp("ms", tz="UTC")
    first = table.slice(0, 1).to_pylist()[0]
    # 2025-11-25 was a Tuesday: ISO day 2 (Monday = 1)
    assert (first["device_id"], first["day_of_week"], first["hour_of_day"]) == ("meter-1", 2, 8)
    assert table.num_rows == 40  # 90 s apart for an hour


@pytest.fixture
def client(store: SqlStore) -> Iterator[TestClient]:
    # the analytics conftest's fixture is out of reach here since the transfer move
    with app_client(store) as test_client:
        yield test_client


def test_api_export_is_streamed(client: TestClient, store: SqlStore) -> None:
    load(store, fleet_readings())
    params = {"start": T0, "end": T0 + H_MS, "devices": "plug-1"}
    response = client.get("/api/v1/export", params={**params, "format": "csv"}, headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 60
    assert rows[0] == {
        "device_id": "plug-1",
        "timestamp": "2025-11-25T08:00:00.000Z",
        "energy_wh": "1000000.0",
        "power_w": "0.2",
        "day_of_week": "2",
        "hour_of_day": "8",
    }
    parquet = client.get("/api/v1/export", params={**params, "format": "parquet"}, headers=AUTH)
    assert pq.read_table(pa.BufferReader(parquet.content)).num_rows == 60
    bad = client.get("/api/v1/export", params={"format": "xls"}, headers=AUTH)
    assert bad.status_code == 422
    unknown = client.get("/api/v1/export", params={"devices": "nope"}, headers=AUTH)
    assert unknown.status_code == 404


def test_import_rejects_like_live_data_and_quarantines(target: SqlStore, tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text(
        "device_id,timestamp,metric,value\n"
        "plug-1,2025-11-25T08:00:00Z,power_w,10\n"
        "plug-1,2025-11-25T08:00:00Z,voltage_v,230\n"  # the same reading
        "plug-1,1764057660000,power_w,11\n"  # epoch ms
        "plug-1,2025-11-25T08:02:00Z,power_w,lots\n"  # bad_value
        "plug-1,yesterday,power_w,1\n"  # bad_timestamp
        "plug-1,2099-01-01T00:00:00Z,power_w,1\n"  # future_timestamp
        "bad/id,2025-11-25T08:00:00Z,power_w,1\n"  # bad topic
        "plug-1,2025-11-25T08:03:00Z,9bad,1\n"  # bad_metric_name
        "plug-1,2025-11-25T08:04:00Z,power_w,nan\n"  # bad_value
    )
    committer = make_committer(target, tmp_path / "archive", auto_register=False)
    target.register_device("plug-1", None, 0, tenant_id=DEFAULT_TENANT)
    summary = import_readings(read_file(path), committer, "iot")
    assert summary.rows == 9
    assert summary.readings == 8
    assert summary.readings_accepted == 2
    assert summary.samples_inserted == 3
    assert summary.rejected == {
        "bad_value": 2,
        "bad_timestamp": 1,
        "future_timestamp": 1,
        "unknown_topic": 1,
        "bad_metric_name": 1,
    }
    assert sorted(q.reason for q in target.quarantine(100)) == sorted(summary.rejected.elements())
    # importing the same file again stores nothing twice
    again = import_readings(read_file(path), committer, "iot")
    assert again.samples_inserted == 0
    assert again.samples_duplicate == 3


def test_unknown_devices_are_rejected_unless_auto_registered(
    target: SqlStore, tmp_path: Path
) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("device_id,timestamp,power_w\nnew-1,2025-11-25T08:00:00Z,5\n")
    strict = make_committer(target, tmp_path / "archive", auto_register=False)
    assert import_readings(read_file(path), strict, "iot").rejected == {"unknown_device": 1}
    lenient = make_committer(target, tmp_path / "archive", auto_register=True)
    assert import_readings(read_file(path), lenient, "iot").samples_inserted == 1


def test_a_file_without_the_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("when,watts\n1,2\n")
    with pytest.raises(ValueError, match="no device_id or timestamp column"):
        read_file(path)


# -- the command line, with S3 served by moto -------------------------------


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[S3Server]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    server = S3Server()
    server.start()
    yield server
    server.stop()


def test_cli_export_to_s3_and_import_back(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source_dir, target_dir = tmp_path / "source", tmp_path / "target"
    source = open_sqlite_store(source_dir / "wattline.db")
    load(source, fleet_readings())
    bucket = s3.new_bucket()
    monkeypatch.setenv("WATTLINE_S3_ENDPOINT_URL", s3.endpoint_url)
    runner = CliRunner()
    exported = runner.invoke(
        cli_app,
        [
            "export",
            "--start",
            "2025-11-25T08:00:00Z",
            "--end",
            "2025-11-25T18:00:00Z",
            "--format",
            "parquet",
            "--to",
            f"s3://{bucket}/exports/",
            "--data-dir",
            str(source_dir),
        ],
    )
    assert exported.exit_code == 0, exported.output
    key = "exports/wattline-20251125T080000Z-20251125T180000Z.parquet"
    assert f"s3://{bucket}/{key}" in exported.output
    local = tmp_path / "download.parquet"
    open_s3_client(s3.endpoint_url).download_file(bucket, key, str(local))
    imported = runner.invoke(
        cli_app, ["import", str(local), "--auto-register", "--data-dir", str(target_dir)]
    )
    assert imported.exit_code == 0, imported.output
    assert "420 readings: 420 accepted" in imported.output
    target = open_sqlite_store(target_dir / "wattline.db")
    try:
        assert samples(target) == samples(source)
    finally:
        target.close()
        source.close()


def test_cli_import_reports_rejections_by_reason(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("device_id,timestamp,power_w\nd1,2025-11-25T08:00:00Z,x\nd1,,1\n")
    result = CliRunner().invoke(
        cli_app, ["import", str(path), "--auto-register", "--data-dir", str(tmp_path / "data")]
    )
    assert result.exit_code == 1
    assert "2 rejected" in result.output
    assert "bad_value: 1" in result.output
    assert "bad_timestamp: 1" in result.output
    bad = CliRunner().invoke(
        cli_app,
        [
            "export",
            "--start",
            "x",
            "--end",
            "y",
            "--to",
            str(tmp_path),
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert bad.exit_code == 2
    assert "neither an ISO 8601 timestamp" in bad.output


def test_an_imported_device_does_not_look_alive(store: SqlStore, tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text(
        "device_id,timestamp,power_w\n"
        "old-1,2025-11-25T08:00:00Z,5\n"
        "old-1,2025-11-25T09:00:00Z,6\n"
        "old-1,2025-11-25T07:00:00Z,4\n"
    )
    committer = make_committer(store, tmp_path / "archive", auto_register=True)
    assert import_readings(read_file(path), committer, "iot").samples_inserted == 3
    with app_client(store) as client:
        [device] = client.get("/api/v1/devices", headers=AUTH).json()["devices"]
    assert device["last_seen"] == "2025-11-25T09:00:00.000Z"
    assert device["status"] == "offline"
    assert device["reported_state"] == "unknown"
