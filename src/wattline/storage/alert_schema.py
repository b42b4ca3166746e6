"""Alert rules (and every version of each), their per-device state, alerts, comments,
notification channels and deliveries. Every table carries its tenant."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, Index, Integer, String, Table, Text

from wattline.storage.schema import KEY_TEXT, metadata

alert_rules = Table(
    "alert_rules",
    metadata,
    Column("rule_id", String(40), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("scope_value", String(64)),
    Column("metric", KEY_TEXT),
    Column("params", Text, nullable=False),  # JSON object
    Column("enabled", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    # deleted rules stay, so their alerts keep a name and their versions a history
    Column("deleted", Boolean, nullable=False, server_default="0"),
    Index("ix_alert_rules_tenant", "tenant_id", "rule_id"),
)

# Each version of a rule as it was saved, and who saved it.
alert_rule_versions = Table(
    "alert_rule_versions",
    metadata,
    Column("rule_id", String(40), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("definition", Text, nullable=False),  # JSON of the rule
    Column("saved_by", String(200), nullable=False),
    Column("saved_ms", BigInteger, nullable=False),
)

# What the evaluator remembers per (rule, device): pending durations, hysteresis
# state, counters. Survives a restart.
alert_rule_state = Table(
    "alert_rule_state",
    metadata,
    Column("rule_id", String(40), primary_key=True),
    Column("device_id", KEY_TEXT, primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("rule_version", Integer, nullable=False),
    Column("state", Text, nullable=False),  # JSON (alerts/conditions.RuleState)
    Column("updated_ms", BigInteger, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("alert_id", String(40), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("rule_id", String(40), nullable=False),
    Column("rule_name", String(200), nullable=False),
    Column("device_id", KEY_TEXT, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("value", Float),
    Column("message", Text, nullable=False),
    Column("first_seen_ms", BigInteger, nullable=False),
    Column("last_seen_ms", BigInteger, nullable=False),
    Column("occurrences", Integer, nullable=False),
    Column("acknowledged_by", String(200)),
    Column("acknowledged_ms", BigInteger),
    Column("cleared_ms", BigInteger),
    Column("cleared_by", String(200)),
    # (rule_id, device_id) while active, NULL once cleared: the unique index makes
    # "one open alert per (rule, device)" a fact of the database, not of one process
    Column("open_key", String(110), unique=True),
    # the latest change (raised, repeated, acknowledged, cleared, commented) and when:
    # what a reconnecting live-stream client catches up on
    Column("changed_ms", BigInteger),
    Column("last_change", String(16)),
    Index("ix_alerts_tenant_time", "tenant_id", "first_seen_ms", "alert_id"),
    Index("ix_alerts_tenant_changed", "tenant_id", "changed_ms", "alert_id"),
)

alert_comments = Table(
    "alert_comments",
    metadata,
    Column("comment_id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", String(40), nullable=False, index=True),
    Column("tenant_id", String(64), nullable=False),
    Column("author", String(200), nullable=False),
    Column("text", Text, nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
)

alert_channels = Table(
    "alert_channels",
    metadata,
    Column("channel_id", String(40), primary_key=True),
    Column("tenant_id", String(64), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),  # webhook, email, mqtt
    Column("definition", Text, nullable=False),  # JSON: target, routing, secret
    Column("enabled", Boolean, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

# One message to one channel (a group of alerts raised together), with its retries.
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("delivery_id", String(40), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("channel_id", String(40), nullable=False),
    Column("alert_ids", Text, nullable=False),  # JSON list
    Column("payload", Text, nullable=False),  # JSON body, signed as it is
    Column("status", String(16), nullable=False),  # pending, delivered, dead
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_ms", BigInteger, nullable=False),
    Column("last_error", Text),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Index("ix_alert_deliveries_due", "status", "next_attempt_ms"),
    Index("ix_alert_deliveries_tenant", "tenant_id", "created_ms"),
)

alert_delivery_attempts = Table(
    "alert_delivery_attempts",
    metadata,
    Column("delivery_id", String(40), primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("detail", Text, nullable=False),  # "HTTP 200", "connection refused", ...
)

# When a channel was last told of an alert: its repeat interval counts from here.
alert_notified = Table(
    "alert_notified",
    metadata,
    Column("channel_id", String(40), primary_key=True),
    Column("alert_id", String(40), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("notified_ms", BigInteger, nullable=False),
)
