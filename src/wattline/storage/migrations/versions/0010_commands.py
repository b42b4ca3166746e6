"""Commands, their history, tenants' command keys and the device configuration twin.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "commands",
        sa.Column("command_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("parameters", sa.Text, nullable=False),
        sa.Column("issuer", sa.String(200), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_ms", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_ms", sa.BigInteger, nullable=False),
        sa.Column("result", sa.Text),
        sa.Column("family", sa.String(32), nullable=False),
    )
    op.create_index(
        "ix_commands_device", "commands", ["tenant_id", "device_id", "created_ms", "command_id"]
    )
    op.create_index("ix_commands_pending", "commands", ["state", "next_attempt_ms"])
    op.create_table(
        "command_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("command_id", sa.String(36), nullable=False),
        sa.Column("from_state", sa.String(16)),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_command_history_command", "command_history", ["command_id", "id"])
    op.create_table(
        "command_keys",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("private_key", sa.Text, nullable=False),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("valid_until_ms", sa.BigInteger),
        sa.PrimaryKeyConstraint("tenant_id", "key_id"),
    )
    op.create_table(
        "device_configs",
        sa.Column("device_id", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("desired", sa.Text, nullable=False),
        sa.Column("desired_version", sa.Integer, nullable=False),
        sa.Column("desired_ms", sa.BigInteger, nullable=False),
        sa.Column("reported", sa.Text),
        sa.Column("reported_version", sa.Integer),
        sa.Column("reported_ms", sa.BigInteger),
        sa.Column("sent_version", sa.Integer),
        sa.Column("sent_ms", sa.BigInteger),
    )


def downgrade() -> None:
    op.drop_table("device_configs")
    op.drop_table("command_keys")
    op.drop_table("command_history")
    op.drop_table("commands")
