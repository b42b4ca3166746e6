"""Where a device is: latitude and longitude, for sunrise/sunset schedules.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("latitude_deg", sa.Float))
        batch.add_column(sa.Column("longitude_deg", sa.Float))


def downgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("longitude_deg")
        batch.drop_column("latitude_deg")
