"""Quarantine entries keyed by what was received: the same bad message is one entry.

A rejected message redelivered after a crash, or a device repeating the same
bad payload, used to add a row each time. ``fingerprint`` (SHA-256 of topic and
payload) is unique; a repeat counts ``occurrences`` and moves
``last_received_ms``. Rows from before this migration keep a NULL fingerprint
(NULLs never collide in a unique index), so nothing is rewritten.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("quarantine") as batch:
        batch.add_column(sa.Column("fingerprint", sa.String(64)))
        batch.add_column(sa.Column("occurrences", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("last_received_ms", sa.BigInteger))
    op.create_index("ux_quarantine_fingerprint", "quarantine", ["fingerprint"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_quarantine_fingerprint", table_name="quarantine")
    with op.batch_alter_table("quarantine") as batch:
        batch.drop_column("last_received_ms")
        batch.drop_column("occurrences")
        batch.drop_column("fingerprint")
