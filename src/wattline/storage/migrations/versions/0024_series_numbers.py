"""Samples keyed by a series number: ``series``, ``sample_rows`` and the ``samples`` view.

Each (device, metric) pair gets a number in ``series``; the samples move to
``sample_rows`` keyed by (series_id, ts_ms), and ``samples`` becomes a view
joining the two, which every read keeps selecting from (ADR 0036). On
PostgreSQL ``sample_rows`` is partitioned as ``samples`` was, with a partition
for each of its partitions (``samples_2026_11`` -> ``sample_rows_2026_11``).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | None = None
depends_on: str | None = None

# As of this revision (schema.KEY_TEXT, schema.SAMPLES_VIEW).
_KEY_TEXT = sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")
_SAMPLES_VIEW = (
    "CREATE VIEW samples AS SELECT s.device_id, s.metric, r.ts_ms, r.value, r.seq,"
    " r.received_ms FROM sample_rows r JOIN series s ON s.series_id = r.series_id"
)


def _partitions(table: str) -> list[tuple[str, str]]:
    """A partitioned table's partitions: (name, bound as PostgreSQL prints it)."""
    rows = op.get_bind().execute(
        sa.text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = CAST(:table AS regclass) ORDER BY c.relname"
        ),
        {"table": table},
    )
    return [(str(name), str(bound)) for name, bound in rows]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "series",
        sa.Column(
            "series_id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("device_id", _KEY_TEXT, nullable=False),
        sa.Column("metric", _KEY_TEXT, nullable=False),
        sa.UniqueConstraint("device_id", "metric", name="ux_series_device_metric"),
    )
    op.execute(
        "INSERT INTO series (device_id, metric)"
        " SELECT DISTINCT device_id, metric FROM samples ORDER BY device_id, metric"
    )
    op.create_table(
        "sample_rows",
        sa.Column("series_id", sa.BigInteger, nullable=False),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("seq", sa.BigInteger),
        sa.Column("received_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("series_id", "ts_ms"),
        sqlite_with_rowid=False,
        postgresql_partition_by="RANGE (ts_ms)",
    )
    if postgres:
        for name, bound in _partitions("samples"):
            # Names and bounds from the catalog of partitions Wattline made.
            op.execute(
                f"CREATE TABLE {name.replace('samples_', 'sample_rows_', 1)}"
                f" PARTITION OF sample_rows {bound}"
            )
    op.execute(
        "INSERT INTO sample_rows (series_id, ts_ms, value, seq, received_ms)"
        " SELECT s.series_id, r.ts_ms, r.value, r.seq, r.received_ms"
        " FROM samples r JOIN series s ON s.device_id = r.device_id AND s.metric = r.metric"
        " ORDER BY s.series_id, r.ts_ms"
    )
    op.drop_table("samples")  # on PostgreSQL with its partitions
    op.execute(_SAMPLES_VIEW)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    partitions = _partitions("sample_rows") if postgres else []
    op.execute("DROP VIEW samples")
    op.create_table(
        "samples",
        sa.Column("device_id", _KEY_TEXT, nullable=False),
        sa.Column("metric", _KEY_TEXT, nullable=False),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("seq", sa.BigInteger),
        sa.Column("received_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("device_id", "metric", "ts_ms"),
        sqlite_with_rowid=False,
        postgresql_partition_by="RANGE (ts_ms)",
    )
    for name, bound in partitions:
        former = name.replace("sample_rows_", "samples_", 1)
        op.execute(f"CREATE TABLE {former} PARTITION OF samples {bound}")
    op.execute(
        "INSERT INTO samples (device_id, metric, ts_ms, value, seq, received_ms)"
        " SELECT s.device_id, s.metric, r.ts_ms, r.value, r.seq, r.received_ms"
        " FROM sample_rows r JOIN series s ON s.series_id = r.series_id"
    )
    op.drop_table("sample_rows")
    op.drop_table("series")
