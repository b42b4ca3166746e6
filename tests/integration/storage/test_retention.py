"""Retention per tier, on every backend: what goes, what stays, and what is reported."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from wattline.cli import app
from wattline.model.messages import Reading
from wattline.storage import schema
from wattline.storage.base import CommitBatch
from wattline.storage.partitions import Month
from wattline.storage.postgres import PostgresStore
from wattline.storage.retention import Removed, RetentionPolicy, RetentionScheduler
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
            rows=2, partitions=("samples_2021_05", "samples_2025_10", "samples_2026_10")
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
    result = CliRunner().invoke(app, ["retention", "run", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("raw: removed 1 rows (kept from ")
    assert [line.split(" (")[0] for line in lines] == [
        "raw: removed 1 rows",
        " 1m: removed 1 rows",
        " 1h: removed 1 rows",
        " 1d: removed 1 rows",
    ]
