"""Rollup tiers of 1 minute, 1 hour and 1 day, filled from the samples already stored.

On PostgreSQL ``rollup_1m`` is partitioned by range of ``bucket_ms`` like
``samples`` (monthly partitions made by the store, a DEFAULT partition for the
rest), because it is the tier that grows fast enough for retention to want to
drop whole months: 1,440 rows per device and metric a day. ``rollup_1h`` (24)
and ``rollup_1d`` (1) are small and stay plain tables.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from itertools import pairwise

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_TIERS = (("rollup_1m", 60_000), ("rollup_1h", 3_600_000), ("rollup_1d", 86_400_000))
_COLUMNS = (
    "device_id, metric, bucket_ms, sample_count, value_sum, value_min, value_max,"
    " first_ts_ms, first_value, last_ts_ms, last_value"
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, _width_ms in _TIERS:
        op.create_table(
            name,
            sa.Column("device_id", sa.String(64), nullable=False),
            sa.Column("metric", sa.String(64), nullable=False),
            sa.Column("bucket_ms", sa.BigInteger, nullable=False),
            sa.Column("sample_count", sa.BigInteger, nullable=False),
            sa.Column("value_sum", sa.Float, nullable=False),
            sa.Column("value_min", sa.Float, nullable=False),
            sa.Column("value_max", sa.Float, nullable=False),
            sa.Column("first_ts_ms", sa.BigInteger, nullable=False),
            sa.Column("first_value", sa.Float, nullable=False),
            sa.Column("last_ts_ms", sa.BigInteger, nullable=False),
            sa.Column("last_value", sa.Float, nullable=False),
            sa.PrimaryKeyConstraint("device_id", "metric", "bucket_ms"),
            sqlite_with_rowid=False,
            postgresql_partition_by="RANGE (bucket_ms)" if name == "rollup_1m" else None,
        )
    if postgres:
        op.execute("CREATE TABLE rollup_1m_default PARTITION OF rollup_1m DEFAULT")
    _backfill()


def _backfill() -> None:
    """Samples stored before this revision get their rollups, so tiers answer for them too.

    1 min from samples, then each coarser tier from the one before; first and
    last are found by joining back on their (unique) timestamps.
    """
    op.execute(
        f"INSERT INTO rollup_1m ({_COLUMNS})"  # noqa: S608 - constant text
        " SELECT g.device_id, g.metric, g.bucket_ms, g.n, g.s, g.lo, g.hi,"
        " g.first_ts, f.value, g.last_ts, l.value FROM ("
        "  SELECT device_id, metric, ts_ms - ts_ms % 60000 AS bucket_ms, count(*) AS n,"
        "  sum(value) AS s, min(value) AS lo, max(value) AS hi,"
        "  min(ts_ms) AS first_ts, max(ts_ms) AS last_ts"
        "  FROM samples GROUP BY device_id, metric, ts_ms - ts_ms % 60000) g"
        " JOIN samples f ON f.device_id = g.device_id AND f.metric = g.metric"
        "  AND f.ts_ms = g.first_ts"
        " JOIN samples l ON l.device_id = g.device_id AND l.metric = g.metric"
        "  AND l.ts_ms = g.last_ts"
    )
    for (finer, _), (coarser, width_ms) in pairwise(_TIERS):
        op.execute(
            f"INSERT INTO {coarser} ({_COLUMNS})"  # noqa: S608 - constant text
            " SELECT g.device_id, g.metric, g.bucket_ms, g.n, g.s, g.lo, g.hi,"
            " g.first_ts, f.first_value, g.last_ts, l.last_value FROM ("
            f"  SELECT device_id, metric, bucket_ms - bucket_ms % {width_ms} AS bucket_ms,"
            "  sum(sample_count) AS n, sum(value_sum) AS s, min(value_min) AS lo,"
            "  max(value_max) AS hi, min(first_ts_ms) AS first_ts, max(last_ts_ms) AS last_ts"
            f"  FROM {finer} GROUP BY device_id, metric, bucket_ms - bucket_ms % {width_ms}) g"
            f" JOIN {finer} f ON f.device_id = g.device_id AND f.metric = g.metric"
            "  AND f.first_ts_ms = g.first_ts"
            f" JOIN {finer} l ON l.device_id = g.device_id AND l.metric = g.metric"
            "  AND l.last_ts_ms = g.last_ts"
        )


def downgrade() -> None:
    for name, _width_ms in reversed(_TIERS):
        op.drop_table(name)
