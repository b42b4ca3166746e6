"""`wattline backup` while ingest commits, and a restore from the copy."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

from typer.testing import CliRunner

from wattline.cli.main import app
from wattline.model.messages import Reading
from wattline.storage.base import CommitBatch
from wattline.storage.sqlite import open_sqlite_store

T0 = 1_764_000_000_000
METRICS = 3
BATCH = 200


def commit_batch(store: object, batch: int) -> None:
    readings = [
        Reading("m1", T0 + (batch * BATCH + i) * 1000, dict.fromkeys(("a", "b", "c"), 1.0))
        for i in range(BATCH)
    ]
    store.commit(  # type: ignore[attr-defined]
        CommitBatch(readings=readings, seen_ms={"m1": T0}, register=["m1"])
    )


def samples(path: Path) -> int:
    with sqlite3.connect(path) as db:
        [count] = db.execute("SELECT count(*) FROM samples").fetchone()
    return int(count)


def test_a_backup_taken_during_ingest_restores_to_one_moment(tmp_path: Path) -> None:
    data_dir = tmp_path / "live"
    store = open_sqlite_store(data_dir / "wattline.db")
    for batch in range(5):
        commit_batch(store, batch)
    stop, writing = threading.Event(), threading.Event()
    committed = [5]

    def ingest() -> None:
        while not stop.is_set():
            commit_batch(store, committed[0])
            committed[0] += 1
            writing.set()

    writer = threading.Thread(target=ingest)
    writer.start()
    try:
        assert writing.wait(30)  # ingest is committing when the backup starts
        result = CliRunner().invoke(
            app, ["backup", str(tmp_path / "copy.db"), "--data-dir", str(data_dir)]
        )
    finally:
        stop.set()
        writer.join()
    assert result.exit_code == 0, result.output
    assert "integrity ok" in result.output

    # restore: the copy becomes the database of a new data dir
    restored_dir = tmp_path / "restored"
    restored_dir.mkdir()
    shutil.copy(tmp_path / "copy.db", restored_dir / "wattline.db")
    restored = open_sqlite_store(restored_dir / "wattline.db")
    try:
        copied = samples(restored_dir / "wattline.db")
        # whole batches only: the copy is the database as of one commit
        assert copied % (BATCH * METRICS) == 0
        assert 5 * BATCH * METRICS <= copied <= committed[0] * BATCH * METRICS
        [latest] = restored.latest_values(["m1"])["m1"][:1]
        assert latest.ts_ms == T0 + (copied // METRICS - 1) * 1000
    finally:
        restored.close()
        store.close()
    assert not (tmp_path / "copy.db-wal").exists()


def test_backup_refuses_to_overwrite_and_names_pg_dump_for_postgres(tmp_path: Path) -> None:
    open_sqlite_store(tmp_path / "wattline.db").close()
    (tmp_path / "taken.db").write_bytes(b"keep me")
    runner = CliRunner()
    taken = runner.invoke(app, ["backup", str(tmp_path / "taken.db"), "--data-dir", str(tmp_path)])
    assert taken.exit_code == 1
    assert "exists already" in taken.output
    assert (tmp_path / "taken.db").read_bytes() == b"keep me"
    postgres = runner.invoke(
        app,
        ["backup", str(tmp_path / "pg.db"), "--database-url", "postgresql://u@db/wattline"],
    )
    assert postgres.exit_code == 2
    assert "pg_dump" in postgres.output
