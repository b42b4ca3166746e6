"""Firmware artifacts, OTA campaigns with each device's update, and schedules.

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "firmware_artifacts",
        sa.Column("artifact_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("device_type", sa.String(64), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.UniqueConstraint("tenant_id", "device_type", "version", name="uq_firmware_version"),
    )
    op.create_table(
        "ota_campaigns",
        sa.Column("campaign_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("artifact_id", sa.String(36), nullable=False),
        sa.Column("device_type", sa.String(64), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("waves_pct", sa.Text, nullable=False),
        sa.Column("soak_ms", sa.BigInteger, nullable=False),
        sa.Column("failure_threshold", sa.Float, nullable=False),
        sa.Column("device_timeout_ms", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("wave", sa.Integer, nullable=False),
        sa.Column("settled_ms", sa.BigInteger),
        sa.Column("checked_from_wave", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(300)),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_ota_campaigns_tenant", "ota_campaigns", ["tenant_id", "created_ms"])
    op.create_index("ix_ota_campaigns_state", "ota_campaigns", ["state"])
    op.create_table(
        "ota_device_updates",
        sa.Column("campaign_id", sa.String(36), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("wave", sa.Integer, nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("from_version", sa.String(64)),
        sa.Column("target_version", sa.String(64), nullable=False),
        sa.Column("detail", sa.String(300)),
        sa.Column("progress_pct", sa.Float),
        sa.Column("sent_ms", sa.BigInteger),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "device_id"),
    )
    op.create_table(
        "schedules",
        sa.Column("schedule_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("cron", sa.String(120)),
        sa.Column("daily_time", sa.String(5)),
        sa.Column("sun_event", sa.String(8)),
        sa.Column("offset_min", sa.Integer, nullable=False),
        sa.Column("latitude_deg", sa.Float),
        sa.Column("longitude_deg", sa.Float),
        sa.Column("command", sa.String(64), nullable=False),
        sa.Column("parameters", sa.Text, nullable=False),
        sa.Column("missed", sa.String(8), nullable=False),
        sa.Column("late_window_s", sa.Integer, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("next_run_ms", sa.BigInteger),
        sa.Column("last_run_ms", sa.BigInteger),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_schedules_tenant", "schedules", ["tenant_id", "schedule_id"])
    op.create_index("ix_schedules_due", "schedules", ["enabled", "next_run_ms"])


def downgrade() -> None:
    op.drop_table("schedules")
    op.drop_table("ota_device_updates")
    op.drop_table("ota_campaigns")
    op.drop_table("firmware_artifacts")
