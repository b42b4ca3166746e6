"""Per-device counts of samples dropped or corrected by (device, metric, ts) dedup.

Readings without a seq, and redeliveries from an earlier boot, are deduplicated
by timestamp only; their drops were counted in /metrics but not per device, so
the gaps endpoint showed fewer duplicates than were dropped.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(
            sa.Column("duplicate_samples", sa.BigInteger, nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("corrected_samples", sa.BigInteger, nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("corrected_samples")
        batch.drop_column("duplicate_samples")
