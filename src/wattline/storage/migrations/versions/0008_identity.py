"""Tenants, users, roles, sessions, API keys, device shares and credentials, audit log.

Devices gain a tenant; every existing device belongs to the ``default`` tenant,
created here.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

DEFAULT_TENANT = "default"
_TABLES = (
    "tenants",
    "users",
    "memberships",
    "invitations",
    "refresh_tokens",
    "api_keys",
    "device_shares",
    "device_credentials",
    "pairing_codes",
    "audit_log",
)


def upgrade() -> None:
    _create_tables()
    with op.batch_alter_table("devices") as batch:
        batch.add_column(
            sa.Column("tenant_id", sa.String(64), nullable=False, server_default=DEFAULT_TENANT)
        )
        batch.create_index("ix_devices_tenant", ["tenant_id", "device_id"])
    tenants = sa.table(
        "tenants", sa.column("tenant_id"), sa.column("name"), sa.column("created_ms")
    )
    op.execute(
        tenants.insert().values(
            tenant_id=DEFAULT_TENANT, name="Default", created_ms=time.time_ns() // 1_000_000
        )
    )


def _create_tables() -> None:
    op.create_table(
        "tenants",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("display_name", sa.String(200)),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("password_changed_ms", sa.BigInteger, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("disabled_ms", sa.BigInteger),
        sa.Column("totp_secret", sa.String(64)),
        sa.Column("totp_enabled", sa.Integer, nullable=False, server_default="0"),
        sa.Column("totp_last_step", sa.BigInteger),
        sa.Column("recovery_codes", sa.Text, nullable=False, server_default="[]"),
    )
    op.create_table(
        "memberships",
        sa.Column("user_id", sa.String(36)),
        sa.Column("tenant_id", sa.String(64)),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "tenant_id"),
    )
    op.create_index("ix_memberships_tenant", "memberships", ["tenant_id"])
    op.create_table(
        "invitations",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("invited_by", sa.String(36), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
        sa.Column("accepted_ms", sa.BigInteger),
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("issued_ms", sa.BigInteger, nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
        sa.Column("replaced_ms", sa.BigInteger),
        sa.Column("revoked_ms", sa.BigInteger),
    )
    op.create_index("ix_refresh_tokens_user", "refresh_tokens", ["user_id"])
    op.create_index("ix_refresh_tokens_family", "refresh_tokens", ["family_id"])
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(24), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("expires_ms", sa.BigInteger),
        sa.Column("last_used_ms", sa.BigInteger),
        sa.Column("revoked_ms", sa.BigInteger),
    )
    op.create_index("ix_api_keys_tenant", "api_keys", ["tenant_id"])
    op.create_table(
        "device_shares",
        sa.Column("device_id", sa.String(64)),
        sa.Column("user_id", sa.String(36)),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("shared_by", sa.String(36), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("device_id", "user_id"),
    )
    op.create_index("ix_device_shares_user", "device_shares", ["user_id"])
    op.create_table(
        "device_credentials",
        sa.Column("credential_id", sa.String(36), primary_key=True),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("username", sa.String(128)),
        sa.Column("secret_hash", sa.String(64)),
        sa.Column("certificate_serial", sa.String(64)),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("expires_ms", sa.BigInteger),
        sa.Column("revoked_ms", sa.BigInteger),
    )
    op.create_index(
        "ux_device_credentials_secret", "device_credentials", ["secret_hash"], unique=True
    )
    op.create_index("ix_device_credentials_device", "device_credentials", ["device_id"])
    op.create_table(
        "pairing_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
        sa.Column("claimed_ms", sa.BigInteger),
        sa.Column("claimed_by", sa.String(36)),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64)),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("source", sa.String(64)),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("object", sa.String(200), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_log_tenant", "audit_log", ["tenant_id", "seq"])


def downgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.drop_index("ix_devices_tenant")
        batch.drop_column("tenant_id")
    for table in reversed(_TABLES):
        op.drop_table(table)
