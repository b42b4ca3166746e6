"""Retention per tier, on every backend: what goes, what stays, and what is reported."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from wattline.archive.base import ArchiveRecord
from wattline.archive.folder import FolderArchive
from wattline.cli.main import app
from wattline.model.messages import Reading
from wattline.storage import schema
from wattline.storage.base import CommitBatch
from wattline.storage.partitions import Month
from wattline.storage.postgres import PostgresStore
from wattline.storage.pruning import DEVICES_PER_CHUNK
from wattline.storage.retention import (
    TIER_NAMES,
    Compaction,
    Removed,
    RetentionPolicy,
    RetentionProgress,
    RetentionScheduler,
)
from wattline.storage.rollups import DAY_MS
from wattline.storage.sql import SqlStore
from wattline.storage.sqlite import open_sqlite_store

NOW_MS = Month(2026, 11).start_ms + 10 * DAY_MS + 12 * 3_600_000  # 2026-11-11T12:00Z
POLICY = RetentionPolicy(raw_days=7, m1_days=30, h1_days=365, d1_days=5 * 365)


def _commit_days_ago(store: SqlStore, *days: float) -> None:
    readings = [
        Reading("r1", NOW_MS - round(d * DAY_MS), {"power_w": float(i), "energy_wh": 1.0})
        for i, d in enumerate(days)
    ]
    store.commit(CommitBatch(readings=readings, seen_ms={"r1": NOW_MS}, register=["r1"]))


def _count(store: SqlStore, table: object) -> int:
    with store.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table)) or 0)  # type: ignore[arg-type]


def test_each_tier_keeps_its_own_span(store: SqlStore) -> None:
    # 1 day, 10 days (raw goes), 40 days (1 min goes), 400 days (1 h goes), 2000 days (all go)
    _commit_days_ago(store, 1, 10, 40, 400, 2000)
    removed = RetentionScheduler(store, POLICY).run_once(NOW_MS)
    assert _count(store, schema.samples) == 2  # the reading of 1 day ago, two metrics
    assert _count(store, schema.rollup_1m) == 4  # and 10 days ago
    assert _count(store, schema.rollup_1h) == 6  # and 40 days ago
    assert _count(store, schema.rollup_1d) == 8  # and 400 days ago: inside five years
    assert (removed["1h"].rows, removed["1d"].rows) == (4, 2)
    if isinstance(store, PostgresStore):
        # Whole months older than the cutoff are dropped; the rest is deleted row by row.
        assert removed["raw"] == Removed(
            rows=2, partitions=("sample_rows_2021_05", "sample_rows_2025_10", "sample_rows_2026_10")
        )
        assert removed["1m"] == Removed(
            rows=2, partitions=("rollup_1m_2021_05", "rollup_1m_2025_10")
        )
    else:
        assert (removed["raw"], removed["1m"]) == (Removed(rows=8), Removed(rows=6))
    again = RetentionScheduler(store, POLICY).run_once(NOW_MS)
    assert all(what.rows == 0 and not what.partitions for what in again.values())


def test_cutoffs_are_whole_utc_days() -> None:
    cutoffs = POLICY.cutoffs_ms(NOW_MS)
    assert all(cutoff % DAY_MS == 0 for cutoff in cutoffs.values())
    assert cutoffs["raw"] == NOW_MS - NOW_MS % DAY_MS - 7 * DAY_MS


def test_late_data_for_a_dropped_month_is_stored_again(store: SqlStore) -> None:
    _commit_days_ago(store, 40)
    RetentionScheduler(store, POLICY).run_once(NOW_MS)
    assert _count(store, schema.samples) == 0
    _commit_days_ago(store, 40)  # a very late upload
    assert _count(store, schema.samples) == 2


def test_the_cli_says_what_it_removed(tmp_path: Path) -> None:
    store = open_sqlite_store(tmp_path / "wattline.db")
    try:
        readings = [Reading("c1", 1_000_000_000_000, {"power_w": 1.0})]  # 2001
        store.commit(CommitBatch(readings=readings, seen_ms={"c1": 0}, register=["c1"]))
    finally:
        store.close()
    # an archived hour of 2001, and one of now
    FolderArchive(tmp_path / "archive").append(
        [
            ArchiveRecord(at_ms, "iot/c1/telemetry", b"{}", "accepted", "telemetry")
            for at_ms in (1_000_000_000_000, int(time.time() * 1000))
        ]
    )
    result = CliRunner().invoke(
        app,
        ["retention", "run", "--data-dir", str(tmp_path)],
        env={"WATTLINE_ARCHIVE_RETENTION_DAYS": "30"},
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    # Progress first, as the run goes; then the summary.
    assert lines[:4] == [f"{tier:>3}: 1/1 devices, 1 rows removed" for tier in TIER_NAMES]
    assert lines[4].startswith("raw: removed 1 rows (kept from ")
    assert [line.split(" (")[0] for line in lines[4:]] == [
        "raw: removed 1 rows",
        " 1m: removed 1 rows",
        " 1h: removed 1 rows",
        " 1d: removed 1 rows",
        "archive: removed 1 segments",
        # the current hour is still open: nothing to compact yet
        "archive compacted: 0 segments into 0, 0 -> 0 bytes",
    ]
    assert len(FolderArchive(tmp_path / "archive").segments()) == 1
    # The archive is kept forever unless a retention is set.
    quiet = CliRunner().invoke(app, ["retention", "run", "--data-dir", str(tmp_path), "-q"])
    assert [line.split(" (")[0] for line in quiet.output.splitlines()] == [
        *(f"{tier:>3}: removed 0 rows" for tier in TIER_NAMES),
        "archive compacted: 0 segments into 0, 0 -> 0 bytes",
    ]


FLEET = 2_000  # devices: enough for many chunks (pruning.DEVICES_PER_CHUNK), fast to write


def _fleet_with_old_data(store: SqlStore) -> None:
    """Every device with a reading old enough for every tier to remove it."""
    ids = [f"f{i:05d}" for i in range(FLEET)]
    readings = [Reading(d, NOW_MS - 2000 * DAY_MS, {"power_w": 1.0, "energy_wh": 2.0}) for d in ids]
    store.commit(CommitBatch(readings=readings, seen_ms=dict.fromkeys(ids, NOW_MS), register=ids))


def test_a_run_over_many_devices_removes_all_and_reports_progress(store: SqlStore) -> None:
    _fleet_with_old_data(store)
    seen: list[RetentionProgress] = []
    removed = RetentionScheduler(store, POLICY).run_once(NOW_MS, progress=seen.append)
    for table in (schema.samples, schema.rollup_1m, schema.rollup_1h, schema.rollup_1d):
        assert _count(store, table) == 0
    assert removed["1d"].rows == 2 * FLEET
    chunks = -(-FLEET // DEVICES_PER_CHUNK)
    assert [p.tier for p in seen] == [tier for tier in TIER_NAMES for _ in range(chunks)]
    assert seen[-1] == RetentionProgress("1d", FLEET, FLEET, 2 * FLEET)


def test_a_set_stop_event_ends_the_run_between_chunks(store: SqlStore) -> None:
    _fleet_with_old_data(store)
    scheduler = RetentionScheduler(store, POLICY)
    seen: list[RetentionProgress] = []

    def stop_after_first_chunk(at: RetentionProgress) -> None:
        seen.append(at)
        scheduler.stop_event.set()

    removed = scheduler.run_once(NOW_MS, progress=stop_after_first_chunk)
    assert seen == [RetentionProgress("raw", DEVICES_PER_CHUNK, FLEET, seen[0].rows)]
    assert list(removed) == ["raw"]
    # The other devices' rows, and every other tier, are untouched.
    assert _count(store, schema.rollup_1d) == 2 * FLEET
    if not isinstance(store, PostgresStore):  # there the month's partition went whole
        assert _count(store, schema.samples) == 2 * (FLEET - DEVICES_PER_CHUNK)


def test_stopping_the_scheduler_thread_interrupts_its_run(store: SqlStore) -> None:
    _fleet_with_old_data(store)
    running = threading.Event()
    scheduler: RetentionScheduler

    def hold_until_stopped(_at: RetentionProgress) -> None:
        running.set()
        scheduler.stop_event.wait()  # mid-run, until shutdown asks

    scheduler = RetentionScheduler(
        store, POLICY, clock=lambda: NOW_MS / 1000, progress=hold_until_stopped
    )
    scheduler.start()
    assert running.wait(60)
    scheduler.stop()
    assert not scheduler.running
    assert _count(store, schema.rollup_1d) == 2 * FLEET  # the run ended in its first tier


def test_compaction_after_retention_packs_closed_days_and_retention_removes_blocks(
    store: SqlStore,
) -> None:
    _commit_days_ago(store, 1, 3, 10, 40)
    scheduler = RetentionScheduler(store, POLICY, compaction=Compaction(store, after_days=2))
    scheduler.run_once(NOW_MS)
    # raw: 1 day ago stays rows, 3 days ago is packed, 10 and 40 days ago expired
    assert (_count(store, schema.samples), _count(store, schema.sample_blocks)) == (2, 2)
    # 1 minute: 1 day ago rows, 3 and 10 days ago packed, 40 days ago expired
    assert (_count(store, schema.rollup_1m), _count(store, schema.rollup_1m_blocks)) == (2, 4)
    points = store.raw_points("r1", NOW_MS - 4 * DAY_MS, NOW_MS, None, 10)
    assert [p.metrics for p in points] == [
        {"energy_wh": 1.0, "power_w": 1.0},
        {"energy_wh": 1.0, "power_w": 0.0},
    ]
    # Eight days on, every raw reading has expired: rows and blocks alike.
    removed = scheduler.run_once(NOW_MS + 8 * DAY_MS)
    assert removed["raw"].rows == 4
    assert (_count(store, schema.samples), _count(store, schema.sample_blocks)) == (0, 0)
