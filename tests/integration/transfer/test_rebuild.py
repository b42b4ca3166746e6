"""Disaster recovery: the store rebuilt from the raw archive by `wattline archive replay`."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from wattline.archive.folder import FolderArchive
from wattline.cli.main import app
from wattline.ingest.committer import Committer
from wattline.ingest.interpret import InterpretConfig
from wattline.model.messages import InboundMessage
from wattline.observability.metrics import IngestMetrics
from wattline.storage.backup import backup_sqlite
from wattline.storage.sqlite import open_sqlite_store

T0 = 1_764_000_000_000  # 2025-11-24T16:00Z
HOUR_MS = 3_600_000
TABLES = {
    "samples": "device_id, metric, ts_ms, value, seq, received_ms",
    "rollup_1m": "device_id, metric, bucket_ms, sample_count, value_sum, value_min, value_max",
    "rollup_1h": "device_id, metric, bucket_ms, sample_count, value_sum, value_min, value_max",
    "rollup_1d": "device_id, metric, bucket_ms, sample_count, value_sum, value_min, value_max",
    "latest": "device_id, metric, ts_ms, value",
    "quarantine": "received_ms, topic, reason, payload",
}


def telemetry(device: str, seq: int, received_ms: int) -> InboundMessage:
    body = {"seq": seq, "ts": received_ms - 100, "metrics": {"power_w": seq * 1.5, "v": 230.0}}
    return InboundMessage(f"iot/{device}/telemetry", json.dumps(body).encode(), received_ms)


def ingest(data_dir: Path, rounds: range) -> None:
    """Live ingest as the collector runs it: archive, then commit, batch by batch."""
    store = open_sqlite_store(data_dir / "wattline.db")
    archive = FolderArchive(data_dir / "archive")
    committer = Committer(
        store,
        archive,
        InterpretConfig(topic_prefix="iot"),
        IngestMetrics(CollectorRegistry()),
        auto_register=True,
    )
    try:
        for n in rounds:
            # two hours apart, so the archive holds several segments
            at = T0 + n * HOUR_MS // 2
            batch = [telemetry(d, n, at + i) for i, d in enumerate(["d1", "d2"])]
            batch.append(InboundMessage("iot/d1/telemetry", b"{not json %d" % n, at + 5))
            committer.commit(committer.plan(batch))
    finally:
        archive.close()
        store.close()


def snapshot(database: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(database) as db:
        return {
            table: db.execute(f"SELECT {columns} FROM {table} ORDER BY {columns}").fetchall()
            for table, columns in TABLES.items()
        }


def replay(data_dir: Path, *flags: str) -> str:
    result = CliRunner().invoke(
        app, ["archive", "replay", "--data-dir", str(data_dir), "--auto-register", *flags]
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_a_lost_database_is_rebuilt_from_the_archive(tmp_path: Path) -> None:
    ingest(tmp_path, range(8))
    before = snapshot(tmp_path / "wattline.db")
    assert len(before["samples"]) == 8 * 2 * 2
    assert len(before["quarantine"]) == 8
    for lost in tmp_path.glob("wattline.db*"):
        lost.unlink()

    output = replay(tmp_path)
    assert (
        "replayed 24 messages: 32 samples stored; already there: 0 samples, 0 readings (by seq);"
        " 8 quarantined"
    ) in output
    assert snapshot(tmp_path / "wattline.db") == before

    # a second run stores nothing twice
    again = replay(tmp_path)
    assert "0 samples stored; already there: 0 samples, 16 readings (by seq)" in again
    assert snapshot(tmp_path / "wattline.db")["samples"] == before["samples"]


def test_a_restored_backup_catches_up_from_the_archive(tmp_path: Path) -> None:
    ingest(tmp_path, range(4))
    backup_sqlite(tmp_path / "wattline.db", tmp_path / "nightly.db")
    ingest(tmp_path, range(4, 8))
    before = snapshot(tmp_path / "wattline.db")

    # the disk is lost; the nightly backup comes back, then the hours since it
    for lost in tmp_path.glob("wattline.db*"):
        lost.unlink()
    shutil.copy(tmp_path / "nightly.db", tmp_path / "wattline.db")
    # From a little before the backup: round 3 (17:30) is replayed again, harmlessly.
    output = replay(tmp_path, "--since", "2025-11-24T17:30:00Z")
    assert "replayed 15 messages: 16 samples stored" in output
    assert snapshot(tmp_path / "wattline.db") == before
