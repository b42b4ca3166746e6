"""Tables, shared by every SQL backend. Timestamps are integer epoch milliseconds (UTC)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)

# Defined beside the tenancy types, so naming it needs no SQLAlchemy.
from wattline.storage.tenancy import DEFAULT_TENANT

metadata = MetaData()

# Device ids and metric names: compared byte by byte on PostgreSQL (``COLLATE "C"``)
# as SQLite's BINARY does. Under a locale's collation (even C.UTF-8) PostgreSQL
# compares them through strcoll, and with five samples per reading, each a
# descent through a key of two such strings, that was about a tenth of a
# commit's time (docs/benchmarks.md, migration 0023). Under C.UTF-8 the order is
# unchanged; on every database it is now SQLite's and Python's sorted().
KEY_TEXT = String(64).with_variant(String(64, collation="C"), "postgresql")

devices = Table(
    "devices",
    metadata,
    Column("device_id", KEY_TEXT, primary_key=True),
    Column("device_type", String(64)),
    Column("firmware_version", String(64)),
    Column("capabilities", Text, nullable=False, default="[]"),
    Column("registered_ms", BigInteger, nullable=False),
    Column("last_seen_ms", BigInteger),
    Column("state", String(16), nullable=False, default="unknown"),
    Column("state_ms", BigInteger),
    # JSON list of strings, for fleet queries by tag
    Column("tags", Text, nullable=False, server_default="[]"),
    # samples dropped because the same (metric, ts) was already stored with the
    # same value, and stored ones whose value a later arrival replaced: what
    # dedup by (device, seq) in seq_state.duplicates does not see
    Column("duplicate_samples", BigInteger, nullable=False, server_default="0"),
    Column("corrected_samples", BigInteger, nullable=False, server_default="0"),
    # the organisation that owns the device; ids stay unique across tenants
    # because topics (iot/{device_id}/...) are one namespace on the broker
    Column("tenant_id", String(64), nullable=False, server_default=DEFAULT_TENANT),
    # where the device is (WGS 84 degrees, both or neither), for sun schedules
    Column("latitude_deg", Float),
    Column("longitude_deg", Float),
    Index("ix_devices_tenant", "tenant_id", "device_id"),
)

# Each (device, metric) pair ever stored as a sample, numbered (ADR 0036). A
# number, once given, is never taken back or reused: processes cache them
# (storage/series_ids.py), so a row is never deleted, not even with its device.
series = Table(
    "series",
    metadata,
    Column(
        "series_id",
        BigInteger().with_variant(Integer, "sqlite"),  # SQLite: the rowid itself
        primary_key=True,
        autoincrement=True,
    ),
    Column("device_id", KEY_TEXT, nullable=False),
    Column("metric", KEY_TEXT, nullable=False),
    UniqueConstraint("device_id", "metric", name="ux_series_device_metric"),
)


# One row per (series, timestamp): the idempotency key that makes a redelivered
# message store nothing twice. Keyed by the series' number rather than its two
# names: every reading descends this key once per metric, and comparing two
# strings there cost about two fifths of PostgreSQL's insert (docs/benchmarks.md,
# ADR 0035); the rows are also shorter by the names. Written through this table,
# read through the ``samples`` view below.
def _sample_columns() -> list[Column[Any]]:
    # A sample's columns after its series, in the table and in the view alike.
    return [
        Column("ts_ms", BigInteger, nullable=False),
        Column("value", Float, nullable=False),
        Column("seq", BigInteger),
        Column("received_ms", BigInteger, nullable=False),
    ]


sample_rows = Table(
    "sample_rows",
    metadata,
    Column("series_id", BigInteger, nullable=False),
    *_sample_columns(),
    PrimaryKeyConstraint("series_id", "ts_ms"),
    sqlite_with_rowid=False,
)

# The samples with their series named: what every read selects from. A view
# (made by migration 0024, and by create_all below), so its Table has metadata of
# its own: neither create_all nor the migrations' schema comparison take it for a table.
views = MetaData()
samples = Table(
    "samples",
    views,
    Column("device_id", KEY_TEXT, nullable=False),
    Column("metric", KEY_TEXT, nullable=False),
    *_sample_columns(),
    # what is unique in the view, for keyset pagination (storage/device_removal.py)
    PrimaryKeyConstraint("device_id", "metric", "ts_ms"),
)
SAMPLES_VIEW = (
    "CREATE VIEW samples AS SELECT s.device_id, s.metric, r.ts_ms, r.value, r.seq,"
    " r.received_ms FROM sample_rows r JOIN series s ON s.series_id = r.series_id"
)


@event.listens_for(metadata, "after_create")
def _create_samples_view(_metadata: MetaData, connection: Connection, **_kw: Any) -> None:
    """``metadata.create_all`` (a database adopted without migrations) makes the view too."""
    connection.exec_driver_sql(SAMPLES_VIEW)


# The newest value of each metric by its own timestamp, kept in the commit
# transaction so "latest" never scans samples.
latest = Table(
    "latest",
    metadata,
    Column("device_id", KEY_TEXT, nullable=False),
    Column("metric", KEY_TEXT, nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("value", Float, nullable=False),
    PrimaryKeyConstraint("device_id", "metric"),
    sqlite_with_rowid=False,
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_ms", BigInteger, nullable=False),
    Column("topic", Text, nullable=False),
    Column("reason", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    # SHA-256 of topic and payload: a redelivered or repeated bad message is one entry
    Column("fingerprint", String(64)),
    Column("occurrences", Integer, nullable=False, server_default="1"),
    Column("last_received_ms", BigInteger),
    Index("ix_quarantine_reason", "reason", "id"),
    Index("ux_quarantine_fingerprint", "fingerprint", unique=True),
)

# Readings committed by the collector and not yet folded into samples, rollups
# and latest values (storage/sql/staging.py, ADR 0033): one row per device and
# committed batch, its hellos and readings in arrival order, in the order they
# were committed. A small table written at its end, so that a commit's cost
# stops growing with the series it touches.
staged = Table(
    "staged",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", KEY_TEXT, nullable=False),
    # when the collector received the device's messages of that batch
    Column("received_ms", BigInteger),
    # when it was staged: a fold may leave rows until they are old enough
    Column("staged_ms", BigInteger, nullable=False),
    # msgpack, the device's readings and hellos in arrival order (storage/staging.py)
    Column("events", LargeBinary, nullable=False),
)

# Per-device sequence tracking (model/sequence.py), read and written in the
# commit transaction so collectors sharing a device's stream agree.
seq_state = Table(
    "seq_state",
    metadata,
    Column("device_id", KEY_TEXT, primary_key=True),
    Column("boot", Integer, nullable=False),
    Column("next_seq", BigInteger),
    Column("boot_first_ts_ms", BigInteger),
    Column("last_ts_ms", BigInteger),
    Column("resets", Integer, nullable=False),
    Column("duplicates", BigInteger, nullable=False),
    # open gaps as JSON [[boot, first_seq, last_seq, detected_ms], ...]
    Column("gaps", Text, nullable=False),
    # this boot's seqs up to here may be unseen: gaps beyond MAX_GAPS were forgotten
    Column("forgotten_through", BigInteger),
)


def _rollup(name: str) -> Table:
    # Merge state per bucket (storage/rollups.py): avg is sum / count, and
    # first/last keep their timestamps so partial aggregates merge exactly.
    return Table(
        name,
        metadata,
        Column("device_id", KEY_TEXT, nullable=False),
        Column("metric", KEY_TEXT, nullable=False),
        Column("bucket_ms", BigInteger, nullable=False),
        Column("sample_count", BigInteger, nullable=False),
        Column("value_sum", Float, nullable=False),
        Column("value_min", Float, nullable=False),
        Column("value_max", Float, nullable=False),
        Column("first_ts_ms", BigInteger, nullable=False),
        Column("first_value", Float, nullable=False),
        Column("last_ts_ms", BigInteger, nullable=False),
        Column("last_value", Float, nullable=False),
        PrimaryKeyConstraint("device_id", "metric", "bucket_ms"),
        sqlite_with_rowid=False,
    )


# Rollup tiers, kept in the commit transaction from newly inserted samples only.
rollup_1m = _rollup("rollup_1m")
rollup_1h = _rollup("rollup_1h")
rollup_1d = _rollup("rollup_1d")


def _blocks(name: str) -> Table:
    # One row per series and closed UTC day: its rows packed by storage/blocks.py.
    # The text keys stay (one per day, not one per sample, so an integer series
    # id would save under 0.1 byte per sample); rows of the same day may exist
    # beside a block only while a commit reopens it (storage/block_tables.py).
    return Table(
        name,
        metadata,
        Column("device_id", KEY_TEXT, nullable=False),
        Column("metric", KEY_TEXT, nullable=False),
        Column("day_ms", BigInteger, nullable=False),
        Column("row_count", Integer, nullable=False),
        Column("payload", LargeBinary, nullable=False),
        PrimaryKeyConstraint("device_id", "metric", "day_ms"),
    )


# Closed days of ``samples`` and of ``rollup_1m``, compacted (ADR 0018).
sample_blocks = _blocks("sample_blocks")
rollup_1m_blocks = _blocks("rollup_1m_blocks")

# Imported last: its tables join this metadata (the one Alembic, create_all and the
# device-removal check read).
from wattline.storage import (  # noqa: E402, F401
    alert_schema,
    command_schema,
    device_name_schema,
    energy_schema,
    firmware_schema,
    identity_schema,
    intelligence_schema,
    lease_schema,
)
