"""Migration 0003 gives samples stored before it their rollups."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, select

from wattline.storage import schema
from wattline.storage.migrations import alembic_config
from wattline.storage.rollups import HOUR_MS
from wattline.storage.sqlite import open_sqlite_store

T0 = 1_764_028_800_000  # 2025-11-25T00:00Z


def test_existing_samples_are_rolled_up_by_the_migration(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0002")
        conn.execute(
            schema.samples.insert(),
            [
                {"device_id": "d", "metric": "p", "ts_ms": T0 + ts, "value": v, "received_ms": 0}
                for ts, v in [(0, 5.0), (30_000, -1.0), (HOUR_MS + 1, 7.0), (25 * HOUR_MS, 2.0)]
            ],
        )
    engine.dispose()
    store = open_sqlite_store(path)  # migrates to head
    try:
        with store.engine.connect() as conn:
            minute = conn.execute(select(schema.rollup_1m).order_by("bucket_ms")).all()
            day = conn.execute(select(schema.rollup_1d).order_by("bucket_ms")).all()
    finally:
        store.close()
    assert tuple(minute[0][2:]) == (T0, 2, 4.0, -1.0, 5.0, T0, 5.0, T0 + 30_000, -1.0)
    assert len(minute) == 3
    assert [tuple(r[2:]) for r in day] == [
        (T0, 3, 11.0, -1.0, 7.0, T0, 5.0, T0 + HOUR_MS + 1, 7.0),
        (T0 + 24 * HOUR_MS, 1, 2.0, 2.0, 2.0, T0 + 25 * HOUR_MS, 2.0, T0 + 25 * HOUR_MS, 2.0),
    ]
