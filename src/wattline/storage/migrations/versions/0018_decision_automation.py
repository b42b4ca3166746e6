"""What an automated decision did: the commands it issued and their outcome.

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0016"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("energy_decisions") as batch:
        batch.add_column(sa.Column("automation", sa.Text))
        batch.add_column(sa.Column("applied", sa.Boolean))


def downgrade() -> None:
    with op.batch_alter_table("energy_decisions") as batch:
        batch.drop_column("applied")
        batch.drop_column("automation")
