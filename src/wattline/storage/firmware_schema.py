"""Firmware artifacts, update campaigns and each device's part in one (migration 0011)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from wattline.storage.schema import KEY_TEXT, metadata

firmware_artifacts = Table(
    "firmware_artifacts",
    metadata,
    Column("artifact_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("device_type", String(64), nullable=False),
    Column("version", String(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("created_by", String(200), nullable=False),
    UniqueConstraint("tenant_id", "device_type", "version", name="uq_firmware_version"),
)

ota_campaigns = Table(
    "ota_campaigns",
    metadata,
    Column("campaign_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("artifact_id", String(36), nullable=False),
    Column("device_type", String(64), nullable=False),
    Column("version", String(64), nullable=False),
    Column("target", Text, nullable=False),  # JSON: model.targets.Target.as_json()
    Column("waves_pct", Text, nullable=False),  # JSON list of cumulative percentages
    Column("soak_ms", BigInteger, nullable=False),
    Column("failure_threshold", Float, nullable=False),
    Column("device_timeout_ms", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("wave", Integer, nullable=False),
    Column("settled_ms", BigInteger),
    Column("checked_from_wave", Integer, nullable=False),
    Column("reason", String(300)),
    Column("created_ms", BigInteger, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Index("ix_ota_campaigns_tenant", "tenant_id", "created_ms"),
    Index("ix_ota_campaigns_state", "state"),
)

ota_device_updates = Table(
    "ota_device_updates",
    metadata,
    Column("campaign_id", String(36), nullable=False),
    Column("device_id", KEY_TEXT, nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("wave", Integer, nullable=False),
    Column("phase", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("from_version", String(64)),
    Column("target_version", String(64), nullable=False),
    Column("detail", String(300)),
    Column("progress_pct", Float),
    Column("sent_ms", BigInteger),
    Column("updated_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint("campaign_id", "device_id"),
)

schedules = Table(
    "schedules",
    metadata,
    Column("schedule_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("target", Text, nullable=False),  # JSON, as ota_campaigns.target
    Column("kind", String(8), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("cron", String(120)),
    Column("daily_time", String(5)),
    Column("sun_event", String(8)),
    Column("offset_min", Integer, nullable=False),
    Column("latitude_deg", Float),
    Column("longitude_deg", Float),
    Column("command", String(64), nullable=False),
    Column("parameters", Text, nullable=False),  # JSON object
    Column("missed", String(8), nullable=False),
    Column("late_window_s", Integer, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("next_run_ms", BigInteger),
    Column("last_run_ms", BigInteger),
    Column("created_ms", BigInteger, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Index("ix_schedules_tenant", "tenant_id", "schedule_id"),
    Index("ix_schedules_due", "enabled", "next_run_ms"),
)
