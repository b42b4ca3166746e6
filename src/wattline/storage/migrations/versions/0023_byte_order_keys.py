"""Device ids and metric names compared byte by byte on PostgreSQL (``COLLATE "C"``).

Under the database's locale collation, even C.UTF-8, PostgreSQL compares text
through strcoll; a commit descends the samples' and rollup tiers' keys of two
such strings several times per reading. Byte order is also SQLite's (BINARY)
and Python's, so both backends now sort ids alike. SQLite is unchanged.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | None = None
depends_on: str | None = None

# Every column holding a device id or a metric name, as of this revision. A
# partitioned table's partitions follow their parent.
_KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "alert_rule_state": ("device_id",),
    "alert_rules": ("metric",),
    "alerts": ("device_id",),
    "anomaly_findings": ("device_id", "metric"),
    "command_history": ("device_id",),
    "commands": ("device_id",),
    "device_configs": ("device_id",),
    "device_credentials": ("device_id",),
    "device_names": ("device_id",),
    "device_shares": ("device_id",),
    "devices": ("device_id",),
    "latest": ("device_id", "metric"),
    "ota_device_updates": ("device_id",),
    "pairing_codes": ("device_id",),
    "pv_systems": ("device_id",),
    "rollup_1d": ("device_id", "metric"),
    "rollup_1h": ("device_id", "metric"),
    "rollup_1m": ("device_id", "metric"),
    "rollup_1m_blocks": ("device_id", "metric"),
    "sample_blocks": ("device_id", "metric"),
    "samples": ("device_id", "metric"),
    "seq_state": ("device_id",),
    "staged": ("device_id",),
}


def _collate(collation: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in _KEY_COLUMNS.items():
        # Our constant names; one statement per table rebuilds its indexes once.
        changes = ", ".join(
            f"ALTER COLUMN {column} TYPE VARCHAR(64) COLLATE {collation}" for column in columns
        )
        op.execute(f"ALTER TABLE {table} {changes}")


def upgrade() -> None:
    _collate('"C"')


def downgrade() -> None:
    _collate('pg_catalog."default"')
