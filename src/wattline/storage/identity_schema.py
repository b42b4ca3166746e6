"""Tables of who may do what: tenants, users, roles, sessions, keys, device credentials, audit.

Secrets are never stored: passwords as argon2id hashes, tokens and keys as
SHA-256 of a random value (they carry 256 bits, so a fast hash is enough).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from wattline.storage.schema import KEY_TEXT, metadata

tenants = Table(
    "tenants",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("user_id", String(36), primary_key=True),
    # lower-cased; the login name
    Column("email", String(320), nullable=False, unique=True),
    Column("display_name", String(200)),
    Column("password_hash", Text, nullable=False),
    Column("password_changed_ms", BigInteger, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("disabled_ms", BigInteger),
    # TOTP: the shared secret once enrolled, whether it is required, and the last
    # time step accepted (a code is single-use within its window)
    Column("totp_secret", String(64)),
    Column("totp_enabled", Integer, nullable=False, server_default="0"),
    Column("totp_last_step", BigInteger),
    # JSON list of SHA-256 hashes of unused recovery codes
    Column("recovery_codes", Text, nullable=False, server_default="[]"),
)

memberships = Table(
    "memberships",
    metadata,
    Column("user_id", String(36), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("role", String(16), nullable=False),  # owner, admin, operator, viewer
    Column("created_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint("user_id", "tenant_id"),
    Index("ix_memberships_tenant", "tenant_id"),
)

invitations = Table(
    "invitations",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("email", String(320), nullable=False),
    Column("role", String(16), nullable=False),
    Column("invited_by", String(36), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("accepted_ms", BigInteger),
)

# Rotating refresh tokens: each use replaces the token with a new one of the same
# family; presenting a replaced token again is reuse, and revokes the family.
refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("family_id", String(36), nullable=False),
    Column("user_id", String(36), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("issued_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("replaced_ms", BigInteger),
    Column("revoked_ms", BigInteger),
    Index("ix_refresh_tokens_family", "family_id"),
    Index("ix_refresh_tokens_user", "user_id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    # the first characters of the key (``wl_live_ab12``), shown in lists and logs
    Column("prefix", String(24), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger),
    Column("last_used_ms", BigInteger),
    Column("revoked_ms", BigInteger),
    Index("ix_api_keys_tenant", "tenant_id"),
)

# One device shared by its tenant with a user of another (the smart-plug seed).
device_shares = Table(
    "device_shares",
    metadata,
    Column("device_id", KEY_TEXT, nullable=False),
    Column("user_id", String(36), nullable=False),
    Column("role", String(16), nullable=False),  # viewer or operator
    Column("shared_by", String(36), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint("device_id", "user_id"),
    Index("ix_device_shares_user", "user_id"),
)

# What a device proves itself with: an MQTT password, an HTTP ingest token or a
# client certificate of Wattline's CA. The secret itself is handed out once.
device_credentials = Table(
    "device_credentials",
    metadata,
    Column("credential_id", String(36), primary_key=True),
    Column("device_id", KEY_TEXT, nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # mqtt_password, http_token, certificate
    Column("username", String(128)),
    Column("secret_hash", String(64)),
    Column("certificate_serial", String(64)),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger),
    Column("revoked_ms", BigInteger),
    Index("ix_device_credentials_device", "device_id"),
    Index("ux_device_credentials_secret", "secret_hash", unique=True),
)

# A short code a device shows so a user can claim it into a tenant.
pairing_codes = Table(
    "pairing_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("device_id", KEY_TEXT, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("claimed_ms", BigInteger),
    Column("claimed_by", String(36)),
)

# Append-only; each entry carries the hash of the one before, so an edit or a
# deletion anywhere breaks the chain from there on (``wattline audit verify``).
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64)),
    Column("ts_ms", BigInteger, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("source", String(64)),
    Column("action", String(64), nullable=False),
    Column("object", String(200), nullable=False),
    # JSON: a before/after summary, never a secret
    Column("summary", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_log_tenant", "tenant_id", "seq"),
)
