"""Alembic migrations shipped inside the package and run in code at every start.

There is no alembic.ini: ``alembic_config`` points Alembic at this folder, and
the caller hands over an open connection, so the backend chooses the engine,
the transaction and any lock around the upgrade. SQLite and PostgreSQL share
one migration history.

To write a new revision (from the repository root)::

    python -c "from alembic import command; from wattline.storage.migrations import \
alembic_config; command.revision(alembic_config(), 'what changes')"

then set ``storage/schema_revision.HEAD_REVISION`` to it (a test compares them).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, inspect
from sqlalchemy.engine.reflection import Inspector

MIGRATIONS_DIR = Path(__file__).parent
# Databases made by ``metadata.create_all`` before Wattline had migrations have
# no alembic_version; the newest table they hold says which revision they equal.
# Only such old databases need this: every database since is versioned.
_UNVERSIONED = (("rollup_1m", "0003"), ("seq_state", "0002"), ("devices", "0001"))


# Revisions since 0003, newest first: (table, column, revision); column None when
# the revision added the table. Each new revision adds its line here.
_ADDED_COLUMNS: tuple[tuple[str, str | None, str], ...] = (
    ("series", None, "0024"),
    ("staged", None, "0022"),
    ("alerts", "changed_ms", "0020"),
    ("devices", "latitude_deg", "0019"),
    ("energy_decisions", "automation", "0018"),
    ("sample_blocks", None, "0016"),
    ("ota_campaigns", None, "0011"),
    ("anomaly_findings", None, "0014"),
    ("alert_rules", None, "0012"),
    ("commands", None, "0010"),
    ("device_names", None, "0015"),
    ("tariffs", None, "0013"),
    ("leases", None, "0009"),
    ("devices", "tenant_id", "0008"),
    ("devices", "duplicate_samples", "0007"),
    ("seq_state", "forgotten_through", "0006"),
    ("devices", "tags", "0005"),
    ("quarantine", "fingerprint", "0004"),
)


def _unversioned_revision(inspector: Inspector, by_tables: str) -> str:
    # A create_all of a later schema has the added columns already.
    for table, column, revision in _ADDED_COLUMNS:
        if not inspector.has_table(table):
            continue
        if column is None or column in {c["name"] for c in inspector.get_columns(table)}:
            return revision
    return by_tables


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    # ConfigParser interpolates "%", which may appear in an install path.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def upgrade_to_head(connection: Connection) -> None:
    """Bring the database to the newest revision; a no-op when it is already there."""
    config = alembic_config(connection)
    inspector = inspect(connection)
    if not inspector.has_table("alembic_version"):
        for table, revision in _UNVERSIONED:
            if inspector.has_table(table):
                command.stamp(config, _unversioned_revision(inspector, revision))
                break
    command.upgrade(config, "head")
