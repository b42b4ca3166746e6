"""Migrations: idempotent, equal to schema.py, and adopting databases made before them."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, func, inspect, select

from wattline.model.messages import Reading
from wattline.storage import schema
from wattline.storage.base import CommitBatch
from wattline.storage.migrations import alembic_config, upgrade_to_head
from wattline.storage.partitions import is_partition
from wattline.storage.rollups import DAY_MS
from wattline.storage.sql import SqlStore
from wattline.storage.sqlite import open_sqlite_store

T0 = 1_764_057_600_000
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def _not_a_partition(
    _object: object, name: str | None, type_: str, _reflected: bool, _compare_to: object
) -> bool:
    return not (type_ == "table" and name is not None and is_partition(name))


def test_upgrading_twice_changes_nothing(store: SqlStore) -> None:
    store.commit(CommitBatch(readings=[Reading("d1", T0, {"power_w": 1.0})], register=["d1"]))
    with store.engine.begin() as conn:
        upgrade_to_head(conn)
        upgrade_to_head(conn)
    with store.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == HEAD
    assert [p.metrics for p in store.raw_points("d1", T0, T0 + 1, None, 10)] == [{"power_w": 1.0}]


def test_the_migrated_database_is_what_schema_py_describes(store: SqlStore) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": _not_a_partition})
        assert compare_metadata(context, schema.metadata) == []


def test_a_database_from_before_migrations_is_adopted(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    schema.metadata.create_all(engine)  # how Wattline made its tables before migrations
    engine.dispose()
    store = open_sqlite_store(path)
    try:
        with store.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == HEAD
            assert "alembic_version" in inspect(conn).get_table_names()
        store.commit(CommitBatch(readings=[Reading("d1", T0, {"power_w": 2.0})], register=["d1"]))
        assert store.latest_values()["d1"][0].value == 2.0
        # create_all makes the samples view too (schema.py), which every read goes through
        points = store.raw_points("d1", T0, T0 + 1, None, 10)
        assert [p.metrics for p in points] == [{"power_w": 2.0}]
    finally:
        store.close()


def test_0016_adds_the_block_tables_to_a_database_with_rows(store: SqlStore) -> None:
    """A database at 0011 holding samples gains the block tables; its rows then compact."""
    readings = [Reading("d1", T0 + i * 60_000, {"power_w": float(i)}, seq=i) for i in range(90)]
    store.commit(CommitBatch(readings=readings, register=["d1"], seen_ms={"d1": T0}))
    with store.engine.begin() as conn:
        config = alembic_config(conn)
        command.downgrade(config, "0011")
        assert not inspect(conn).has_table("sample_blocks")
        upgrade_to_head(conn)
        assert inspect(conn).has_table("sample_blocks")
        assert inspect(conn).has_table("rollup_1m_blocks")
    before = store.raw_points("d1", T0, T0 + DAY_MS, None, 1000)
    done = store.compact_before(T0 - T0 % DAY_MS + DAY_MS)
    assert done.rows == 90 + 90  # the raw samples and their 1-minute buckets
    assert store.raw_points("d1", T0, T0 + DAY_MS, None, 1000) == before


def test_0020_stamps_the_latest_change_of_alerts_kept_before_it(store: SqlStore) -> None:
    """Alerts from before 0020 get their latest change (and time) from the times they keep."""
    from tests.integration.live.test_alert_catchup import Origin, raise_at  # noqa: PLC0415

    alerts = store.alerts
    opened = raise_at(store, Origin("r1"), "d1", T0)
    acked = raise_at(store, Origin("r2"), "d1", T0 + 1)
    alerts.acknowledge(acked, tenant_id="default", by="op", now_ms=T0 + 5)
    cleared = raise_at(store, Origin("r3"), "d1", T0 + 2)
    alerts.acknowledge(cleared, tenant_id="default", by="op", now_ms=T0 + 6)
    alerts.clear_by_hand(cleared, tenant_id="default", by="op", now_ms=T0 + 7)
    with store.engine.begin() as conn:
        config = alembic_config(conn)
        command.downgrade(config, "0018")
        assert "changed_ms" not in {c["name"] for c in inspect(conn).get_columns("alerts")}
        upgrade_to_head(conn)
    found = {
        a.alert_id: (a.last_change, a.changed_ms)
        for a in alerts.changed_since(
            tenant_id="default", since_ms=0, until_ms=T0 + 10, device_ids=None, limit=10
        )
    }
    assert found == {
        opened: ("raised", T0),
        acked: ("acknowledged", T0 + 5),
        cleared: ("cleared", T0 + 7),
    }


def test_0024_moves_the_samples_into_rows_keyed_by_series_number(store: SqlStore) -> None:
    """A database at 0023 holding samples (on PostgreSQL in monthly partitions) keeps
    every sample through the view, its pairs numbered in name order (ADR 0036)."""
    devices = ["d2", "d0", "d1"]
    readings = [
        Reading(devices[i % 3], T0 + i * 60_000, {"q": -float(i), "p": float(i)}, seq=i)
        for i in range(30)
    ]
    store.commit(CommitBatch(readings=readings, register=devices, seen_ms={}))
    before = {d: store.raw_points(d, T0, T0 + DAY_MS, None, 100) for d in devices}
    with store.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0023")
        assert "samples" in inspect(conn).get_table_names()
        assert not inspect(conn).has_table("sample_rows")
        upgrade_to_head(conn)
        assert "samples" in inspect(conn).get_view_names()
        s = schema.series.c
        numbered = conn.execute(select(s.device_id, s.metric).order_by(s.series_id)).all()
        stored = conn.scalar(select(func.count()).select_from(schema.sample_rows))
    assert [tuple(row) for row in numbered] == [(d, m) for d in sorted(devices) for m in "pq"]
    assert stored == 60
    assert {d: store.raw_points(d, T0, T0 + DAY_MS, None, 100) for d in devices} == before
