"""Tariffs and their assignments, tenants' energy settings, fetched grid data, PV systems.

Revision ID: 0013
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "tariffs",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("tariff_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("tz", sa.String(64), nullable=False),
        sa.Column("versions", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "tariff_id"),
    )
    op.create_table(
        "tariff_assignments",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("target_kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("tariff_id", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "target_kind", "target"),
    )
    op.create_table(
        "energy_settings",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("carbon_zone", sa.String(32)),
        sa.Column("latitude_deg", sa.Float),
        sa.Column("longitude_deg", sa.Float),
    )
    op.create_table(
        "grid_values",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("series", sa.String(32), nullable=False),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("fetched_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "series", "ts_ms"),
    )

    op.create_table(
        "pv_systems",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "device_id"),
    )


def downgrade() -> None:
    for table in ("pv_systems", "grid_values", "energy_settings", "tariff_assignments", "tariffs"):
        op.drop_table(table)
