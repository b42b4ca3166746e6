"""Devices' display names, set by the smart-plug seed's apps when they pair a device.

Revision ID: 0015
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "device_names",
        sa.Column("device_id", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_device_names_tenant_id", "device_names", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_device_names_tenant_id", table_name="device_names")
    op.drop_table("device_names")
