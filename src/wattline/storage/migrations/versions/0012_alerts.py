"""Alert rules and their versions, rule state, alerts, comments, channels, deliveries.

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

_TABLES = (
    "alert_notified",
    "alert_delivery_attempts",
    "alert_deliveries",
    "alert_channels",
    "alert_comments",
    "alerts",
    "alert_rule_state",
    "alert_rule_versions",
    "alert_rules",
)


def _ms(name: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger, nullable=nullable)


def tenant() -> sa.Column[str]:
    return sa.Column("tenant_id", sa.String(64), nullable=False)


def upgrade() -> None:
    op.create_table(
        "alert_rules",
        sa.Column("rule_id", sa.String(40), primary_key=True),
        tenant(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("scope_value", sa.String(64)),
        sa.Column("metric", sa.String(64)),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        _ms("created_ms"),
        _ms("updated_ms"),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default="0"),
    )
    op.create_index("ix_alert_rules_tenant", "alert_rules", ["tenant_id", "rule_id"])
    op.create_table(
        "alert_rule_versions",
        sa.Column("rule_id", sa.String(40), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        tenant(),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("saved_by", sa.String(200), nullable=False),
        _ms("saved_ms"),
    )
    op.create_table(
        "alert_rule_state",
        sa.Column("rule_id", sa.String(40), primary_key=True),
        sa.Column("device_id", sa.String(64), primary_key=True),
        tenant(),
        sa.Column("rule_version", sa.Integer, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        _ms("updated_ms"),
    )
    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.String(40), primary_key=True),
        tenant(),
        sa.Column("rule_id", sa.String(40), nullable=False),
        sa.Column("rule_name", sa.String(200), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("message", sa.Text, nullable=False),
        _ms("first_seen_ms"),
        _ms("last_seen_ms"),
        sa.Column("occurrences", sa.Integer, nullable=False),
        sa.Column("acknowledged_by", sa.String(200)),
        _ms("acknowledged_ms", nullable=True),
        _ms("cleared_ms", nullable=True),
        sa.Column("cleared_by", sa.String(200)),
        sa.Column("open_key", sa.String(110), unique=True),
    )
    op.create_index("ix_alerts_tenant_time", "alerts", ["tenant_id", "first_seen_ms", "alert_id"])
    op.create_table(
        "alert_comments",
        sa.Column("comment_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.String(40), nullable=False, index=True),
        tenant(),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        _ms("ts_ms"),
    )
    op.create_table(
        "alert_channels",
        sa.Column("channel_id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        _ms("created_ms"),
    )
    op.create_table(
        "alert_deliveries",
        sa.Column("delivery_id", sa.String(40), primary_key=True),
        tenant(),
        sa.Column("channel_id", sa.String(40), nullable=False),
        sa.Column("alert_ids", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        _ms("next_attempt_ms"),
        sa.Column("last_error", sa.Text),
        _ms("created_ms"),
        _ms("updated_ms"),
    )
    op.create_index("ix_alert_deliveries_due", "alert_deliveries", ["status", "next_attempt_ms"])
    op.create_index("ix_alert_deliveries_tenant", "alert_deliveries", ["tenant_id", "created_ms"])
    op.create_table(
        "alert_delivery_attempts",
        sa.Column("delivery_id", sa.String(40), primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True),
        tenant(),
        _ms("ts_ms"),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_table(
        "alert_notified",
        sa.Column("channel_id", sa.String(40), primary_key=True),
        sa.Column("alert_id", sa.String(40), primary_key=True),
        tenant(),
        _ms("notified_ms"),
    )


def downgrade() -> None:
    for table in _TABLES:
        op.drop_table(table)
