"""Anomaly findings, homes and recommended decisions (energy intelligence).

Revision ID: 0014
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "anomaly_findings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("metric", sa.String(64), nullable=False),
        sa.Column("start_ms", sa.BigInteger, nullable=False),
        sa.Column("end_ms", sa.BigInteger, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("observed", sa.Float, nullable=False),
        sa.Column("expected_low", sa.Float, nullable=False),
        sa.Column("expected_high", sa.Float, nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("explanation", sa.Text, nullable=False),
        sa.Column("detector_version", sa.String(64), nullable=False),
        sa.Column("found_ms", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("tenant_id", "device_id", "kind", "start_ms", name="uq_finding"),
    )
    op.create_index("ix_findings_tenant", "anomaly_findings", ["tenant_id", "id"])
    op.create_table(
        "energy_homes",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("home_id", sa.String(64), primary_key=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "energy_decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("home_id", sa.String(64), nullable=False),
        sa.Column("decided_ms", sa.BigInteger, nullable=False),
        sa.Column("rule_version", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("run_from_ms", sa.BigInteger),
        sa.Column("run_to_ms", sa.BigInteger),
        sa.Column("explanation", sa.Text, nullable=False),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("expected", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text),
        sa.Column("outcome_ms", sa.BigInteger),
    )
    op.create_index("ix_decisions_tenant", "energy_decisions", ["tenant_id", "id"])
    op.create_index("ix_decisions_pending", "energy_decisions", ["outcome_ms", "run_to_ms"])


def downgrade() -> None:
    op.drop_table("energy_decisions")
    op.drop_table("energy_homes")
    op.drop_table("anomaly_findings")
