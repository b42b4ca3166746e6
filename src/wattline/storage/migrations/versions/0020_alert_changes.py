"""When each alert last changed, and how: the live stream's catch-up reads it by time.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("changed_ms", sa.BigInteger))
        batch.add_column(sa.Column("last_change", sa.String(16)))
    # existing alerts: the latest of their known times, and the change that set it
    op.execute(
        "UPDATE alerts SET changed_ms = CASE"
        " WHEN cleared_ms IS NOT NULL AND cleared_ms >= last_seen_ms"
        "  AND cleared_ms >= COALESCE(acknowledged_ms, 0) THEN cleared_ms"
        " WHEN acknowledged_ms IS NOT NULL AND acknowledged_ms >= last_seen_ms THEN acknowledged_ms"
        " ELSE last_seen_ms END,"
        " last_change = CASE"
        " WHEN cleared_ms IS NOT NULL AND cleared_ms >= last_seen_ms"
        "  AND cleared_ms >= COALESCE(acknowledged_ms, 0) THEN 'cleared'"
        " WHEN acknowledged_ms IS NOT NULL AND acknowledged_ms >= last_seen_ms THEN 'acknowledged'"
        " WHEN occurrences > 1 THEN 'repeated'"
        " ELSE 'raised' END"
    )
    op.create_index("ix_alerts_tenant_changed", "alerts", ["tenant_id", "changed_ms", "alert_id"])


def downgrade() -> None:
    op.drop_index("ix_alerts_tenant_changed", table_name="alerts")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("last_change")
        batch.drop_column("changed_ms")
