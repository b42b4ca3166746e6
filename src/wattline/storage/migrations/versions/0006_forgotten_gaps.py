"""Sequence state remembers how far gaps were forgotten (``forgotten_through``).

Past MAX_GAPS open gaps the oldest are dropped; the readings they stood for are
then unknown, not seen, so a late one must be kept instead of being counted a
duplicate. Two collectors in a shared group open a gap per message for each
other, so the bound is reached in normal operation.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("seq_state") as batch:
        batch.add_column(sa.Column("forgotten_through", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("seq_state") as batch:
        batch.drop_column("forgotten_through")
