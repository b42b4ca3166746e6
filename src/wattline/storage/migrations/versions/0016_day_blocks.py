"""Closed days of raw samples and of the 1-minute tier, compacted into blocks (ADR 0018).

Revision ID: 0016
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None

_TABLES = ("sample_blocks", "rollup_1m_blocks")


def upgrade() -> None:
    # Empty at first: existing rows stay rows until the compaction job packs their days.
    for name in _TABLES:
        op.create_table(
            name,
            sa.Column("device_id", sa.String(64), nullable=False),
            sa.Column("metric", sa.String(64), nullable=False),
            sa.Column("day_ms", sa.BigInteger, nullable=False),
            sa.Column("row_count", sa.Integer, nullable=False),
            sa.Column("payload", sa.LargeBinary, nullable=False),
            sa.PrimaryKeyConstraint("device_id", "metric", "day_ms"),
        )


def downgrade() -> None:
    # Blocks would be lost: a downgrade first needs every block expanded back into rows,
    # which ``wattline`` never does on its own; refuse rather than drop data.
    bind = op.get_bind()
    for name in _TABLES:
        if bind.execute(sa.text(f"SELECT 1 FROM {name} LIMIT 1")).first() is not None:  # noqa: S608
            raise RuntimeError(f"{name} holds compacted days; expand them before downgrading")
    for name in _TABLES:
        op.drop_table(name)
