"""Anomaly findings, homes and the decisions recommended for them (tenant-scoped)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from wattline.storage.schema import KEY_TEXT, metadata

anomaly_findings = Table(
    "anomaly_findings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("device_id", KEY_TEXT, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("metric", KEY_TEXT, nullable=False),
    Column("start_ms", BigInteger, nullable=False),
    Column("end_ms", BigInteger, nullable=False),
    Column("score", Float, nullable=False),
    Column("observed", Float, nullable=False),
    Column("expected_low", Float, nullable=False),
    Column("expected_high", Float, nullable=False),
    Column("unit", String(32), nullable=False),
    Column("explanation", Text, nullable=False),
    Column("detector_version", String(64), nullable=False),
    # when it was last found: a detector run again over the same days updates, not repeats
    Column("found_ms", BigInteger, nullable=False),
    UniqueConstraint("tenant_id", "device_id", "kind", "start_ms", name="uq_finding"),
    Index("ix_findings_tenant", "tenant_id", "id"),
)

energy_homes = Table(
    "energy_homes",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("home_id", String(64), primary_key=True),
    # JSON: time zone, sources, load and flexible devices, preferences
    Column("document", Text, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

energy_decisions = Table(
    "energy_decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("home_id", String(64), nullable=False),
    Column("decided_ms", BigInteger, nullable=False),
    Column("rule_version", String(64), nullable=False),
    Column("source", String(16), nullable=False),
    Column("run_from_ms", BigInteger),
    Column("run_to_ms", BigInteger),
    Column("explanation", Text, nullable=False),
    Column("inputs", Text, nullable=False),  # JSON, as seen at decision time
    Column("expected", Text, nullable=False),  # JSON
    Column("outcome", Text),  # JSON; NULL until measured
    Column("outcome_ms", BigInteger),
    Column("automation", Text),  # JSON; NULL when the home does not allow automation
    Column("applied", Boolean),  # the seed's AIDecision.applied, for its filter
    Index("ix_decisions_tenant", "tenant_id", "id"),
    Index("ix_decisions_pending", "outcome_ms", "run_to_ms"),
)
