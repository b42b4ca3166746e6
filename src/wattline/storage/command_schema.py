"""Commands to devices, their history, the tenants' command keys and the configuration twin."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, PrimaryKeyConstraint, String, Table, Text

from wattline.storage.schema import KEY_TEXT, metadata

commands = Table(
    "commands",
    metadata,
    Column("command_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("device_id", KEY_TEXT, nullable=False),
    Column("name", String(64), nullable=False),
    Column("parameters", Text, nullable=False),  # JSON object
    Column("issuer", String(200), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("state_ms", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_ms", BigInteger, nullable=False),
    Column("result", Text),
    Column("family", String(32), nullable=False),
    # a device's list, newest first, and the API's cursor over it
    Index("ix_commands_device", "tenant_id", "device_id", "created_ms", "command_id"),
    # what the dispatcher looks for: queued or sent, due
    Index("ix_commands_pending", "state", "next_attempt_ms"),
)

# Every step of every command, kept: who asked, when it went out, what the device said.
command_history = Table(
    "command_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("device_id", KEY_TEXT, nullable=False),
    Column("command_id", String(36), nullable=False),
    Column("from_state", String(16)),
    Column("to_state", String(16), nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    Column("detail", Text),
    Index("ix_command_history_command", "command_id", "id"),
)

# Each tenant's Ed25519 keys: the newest signs; a retired one still verifies
# until valid_until_ms (the rotation's grace period).
command_keys = Table(
    "command_keys",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("private_key", Text, nullable=False),  # PKCS#8 PEM
    Column("public_key", Text, nullable=False),  # raw, base64
    Column("created_ms", BigInteger, nullable=False),
    Column("valid_until_ms", BigInteger),  # None: the signing key
    PrimaryKeyConstraint("tenant_id", "key_id"),
)

# The configuration twin: what the owner wants, what the device says it applied.
device_configs = Table(
    "device_configs",
    metadata,
    Column("device_id", KEY_TEXT, primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("desired", Text, nullable=False),  # JSON object
    Column("desired_version", Integer, nullable=False),
    Column("desired_ms", BigInteger, nullable=False),
    Column("reported", Text),  # JSON object, None until the device reports
    Column("reported_version", Integer),
    Column("reported_ms", BigInteger),
    Column("sent_version", Integer),  # the desired version last published
    Column("sent_ms", BigInteger),
)
