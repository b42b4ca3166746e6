"""Per-device sequence state: boot counter, next expected seq, open gaps.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "seq_state",
        sa.Column("device_id", sa.String(64), primary_key=True),
        sa.Column("boot", sa.Integer, nullable=False),
        sa.Column("next_seq", sa.BigInteger),
        sa.Column("boot_first_ts_ms", sa.BigInteger),
        sa.Column("last_ts_ms", sa.BigInteger),
        sa.Column("resets", sa.Integer, nullable=False),
        sa.Column("duplicates", sa.BigInteger, nullable=False),
        sa.Column("gaps", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("seq_state")
