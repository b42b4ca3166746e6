"""PostgreSQL: room on each page for the rows every commit updates (fillfactor 70).

The rollup tiers, the latest values, the sequence rows and the devices' last-seen
times are updated by nearly every commit. With full pages (PostgreSQL's default
fillfactor of 100) an update seldom finds room on its row's page, so it writes a
new index entry as well: at 100 devices a commit, 52-58 % of these updates were
heap-only (HOT), and 95-98 % with a fillfactor of 70, the commit 27.5-31.7 ->
26.7-28.2 ms on a fresh database (docs/benchmarks.md); a fuller table gains more.
It applies to pages written from now on;
new monthly partitions of ``rollup_1m`` get it when they are made
(``storage/postgres.py``). SQLite has no such setting.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | None = None
depends_on: str | None = None

# Kept in step with storage/partitions.PARTITION_STORAGE, which new partitions use.
_FILLFACTOR = 70
_TABLES = ("rollup_1h", "rollup_1d", "latest", "seq_state", "devices")


def _updated_tables() -> list[str]:
    """The tables above and every partition of ``rollup_1m`` (a partitioned table
    itself takes no storage parameters)."""
    partitions = op.get_bind().scalars(
        sa.text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = CAST('rollup_1m' AS regclass) ORDER BY c.relname"
        )
    )
    return [*_TABLES, *partitions]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _updated_tables():
        # Names from the catalogue and the constants above; no rewrite, a brief lock.
        op.execute(f"ALTER TABLE {table} SET (fillfactor = {_FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _updated_tables():
        op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
