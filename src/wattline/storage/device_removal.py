"""Everything stored about one device, to archive and to delete without leftovers.

`DEVICE_TABLES` is the one list of tables keyed by device; deleting a device
walks it in one transaction, so no samples, rollups, latest values or sequence
state can outlive the device row. A test checks the list against the schema.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection, Delete, Table, delete, select, tuple_

from wattline.storage import (
    alert_schema,
    command_schema,
    device_name_schema,
    energy_schema,
    firmware_schema,
    identity_schema,
    intelligence_schema,
    schema,
)
from wattline.storage.series_numbers import rows_of_device

# What the device measured and how its stream was tracked.
DEVICE_DATA_TABLES: tuple[Table, ...] = (
    schema.samples,
    schema.rollup_1m,
    schema.rollup_1h,
    schema.rollup_1d,
    schema.latest,
    schema.seq_state,
)
# Its readings committed and not yet folded into samples (ADR 0033).
DEVICE_STAGED_TABLES: tuple[Table, ...] = (schema.staged,)
# Its closed days of samples and 1-minute rollups, compacted (ADR 0018); archived
# as the blocks they are (storage/blocks.py reads them back).
DEVICE_BLOCK_TABLES: tuple[Table, ...] = (schema.sample_blocks, schema.rollup_1m_blocks)
# What was found out about it: anomaly findings.
DEVICE_FINDINGS_TABLES: tuple[Table, ...] = (intelligence_schema.anomaly_findings,)
# Who may reach the device: shares, credentials (hashes only) and pairing codes.
DEVICE_ACCESS_TABLES: tuple[Table, ...] = (
    identity_schema.device_shares,
    identity_schema.device_credentials,
    identity_schema.pairing_codes,
)
# How the device is modelled: a PV inverter's array.
DEVICE_SETTINGS_TABLES: tuple[Table, ...] = (energy_schema.pv_systems,)
# What people call the device.
DEVICE_LABEL_TABLES: tuple[Table, ...] = (device_name_schema.device_names,)
# Commands sent to the device, their history, and its configuration twin.
DEVICE_COMMAND_TABLES: tuple[Table, ...] = (
    command_schema.commands,
    command_schema.command_history,
    command_schema.device_configs,
)
# What alert rules remembered about the device, and its alerts.
DEVICE_ALERT_TABLES: tuple[Table, ...] = (alert_schema.alert_rule_state, alert_schema.alerts)
# The device's part in firmware campaigns.
DEVICE_FIRMWARE_TABLES: tuple[Table, ...] = (firmware_schema.ota_device_updates,)
# Kept when a device goes: its series' numbers, which processes cache and which
# are never taken back (ADR 0036); they name the device and its metrics, nothing
# it measured.
DEVICE_KEPT_TABLES: tuple[Table, ...] = (schema.series,)
# Children first, the registry row last.
DEVICE_TABLES: tuple[Table, ...] = (
    *DEVICE_DATA_TABLES,
    *DEVICE_STAGED_TABLES,
    *DEVICE_BLOCK_TABLES,
    *DEVICE_FINDINGS_TABLES,
    *DEVICE_ACCESS_TABLES,
    *DEVICE_SETTINGS_TABLES,
    *DEVICE_LABEL_TABLES,
    *DEVICE_COMMAND_TABLES,
    *DEVICE_ALERT_TABLES,
    *DEVICE_FIRMWARE_TABLES,
    schema.devices,
)
PAGE_ROWS = 50_000


def delete_device_rows(conn: Connection, device_id: str) -> dict[str, int]:
    """Delete the device from every table; return the rows removed per table.

    The samples go from ``sample_rows`` (``samples`` is a view of them); the
    device's ``series`` rows stay, since numbers are never taken back (ADR 0036).
    """
    return {
        table.name: conn.execute(_delete_of_device(table, device_id)).rowcount
        for table in DEVICE_TABLES
    }


def _delete_of_device(table: Table, device_id: str) -> Delete:
    if table is schema.samples:
        return delete(schema.sample_rows).where(rows_of_device(device_id))
    return delete(table).where(table.c.device_id == device_id)


def iter_device_rows(
    conn: Connection, table: Table, device_id: str, page_rows: int = PAGE_ROWS
) -> Iterator[list[dict[str, object]]]:
    """The device's rows of one table, a page at a time, in primary-key order.

    Keyset pagination on the primary key: each page is an index range scan,
    however far into a year of rows it starts.
    """
    key = list(table.primary_key.columns)
    after: tuple[object, ...] | None = None
    while True:
        query = select(table).where(table.c.device_id == device_id).order_by(*key).limit(page_rows)
        if after is not None:
            query = query.where(tuple_(*key) > tuple_(*after))
        rows = [dict(row) for row in conn.execute(query).mappings()]
        if not rows:
            return
        yield rows
        after = tuple(rows[-1][column.name] for column in key)
        if len(rows) < page_rows:
            return
