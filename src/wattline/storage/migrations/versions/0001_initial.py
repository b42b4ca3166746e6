"""The initial tables: devices, samples, latest, quarantine.

On PostgreSQL ``samples`` is partitioned by range of ``ts_ms``: the store adds
one partition per UTC month as batches need them, and the DEFAULT partition
takes anything else, so an insert never fails for want of a partition.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("device_id", sa.String(64), primary_key=True),
        sa.Column("device_type", sa.String(64)),
        sa.Column("firmware_version", sa.String(64)),
        sa.Column("capabilities", sa.Text, nullable=False),
        sa.Column("registered_ms", sa.BigInteger, nullable=False),
        sa.Column("last_seen_ms", sa.BigInteger),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_ms", sa.BigInteger),
    )
    op.create_table(
        "samples",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("metric", sa.String(64), nullable=False),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("seq", sa.BigInteger),
        sa.Column("received_ms", sa.BigInteger, nullable=False),
        # ts_ms is in the key, as PostgreSQL requires of a partitioned table's primary key.
        sa.PrimaryKeyConstraint("device_id", "metric", "ts_ms"),
        sqlite_with_rowid=False,
        postgresql_partition_by="RANGE (ts_ms)",
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TABLE samples_default PARTITION OF samples DEFAULT")
    op.create_table(
        "latest",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("metric", sa.String(64), nullable=False),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("device_id", "metric"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("received_ms", sa.BigInteger, nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_quarantine_reason", "quarantine", ["reason", "id"])


def downgrade() -> None:
    op.drop_index("ix_quarantine_reason", table_name="quarantine")
    op.drop_table("quarantine")
    op.drop_table("latest")
    # Dropping the partitioned parent drops every monthly partition with it.
    op.drop_table("samples")
    op.drop_table("devices")
