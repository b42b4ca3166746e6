"""Archive everything stored about a device as Parquet, before it is deleted.

One file per table (samples, each rollup tier, latest, sequence state, the
registry row) in ``{folder}/{device_id}-{UTC stamp}/``, written a page at a
time, plus ``manifest.json`` with the row counts. The tables keep their own
columns, so nothing is lost in translation (seq, received time, tier sums).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, Float, Integer, LargeBinary, Table

from wattline.storage.device_removal import DEVICE_TABLES
from wattline.storage.ports import DeviceExport

if TYPE_CHECKING:
    import pyarrow as pa


def arrow_schema(table: Table) -> pa.Schema:
    import pyarrow as pa  # noqa: PLC0415 - loaded at the first device archived, not at start-up

    def kind(column_type: object) -> pa.DataType:
        if isinstance(column_type, Integer | BigInteger):
            return pa.int64()
        if isinstance(column_type, Float):
            return pa.float64()
        if isinstance(column_type, LargeBinary):
            return pa.binary()
        return pa.string()

    return pa.schema([pa.field(c.name, kind(c.type)) for c in table.columns])


def archive_device(
    store: DeviceExport, device_id: str, folder: Path, now_ms: int
) -> tuple[Path, dict[str, int]]:
    """Write the device's rows; return the folder and the rows written per table."""
    import pyarrow as pa  # noqa: PLC0415 - loaded at the first device archived, not at start-up
    import pyarrow.parquet as pq  # noqa: PLC0415

    stamp = datetime.fromtimestamp(now_ms / 1000, tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    target = folder / f"{device_id}-{stamp}"
    target.mkdir(parents=True, exist_ok=False)
    counts: dict[str, int] = {}
    for table in DEVICE_TABLES:
        schema = arrow_schema(table)
        counts[table.name] = 0
        with pq.ParquetWriter(target / f"{table.name}.parquet", schema) as writer:
            for rows in store.device_rows(table.name, device_id):
                writer.write_table(pa.Table.from_pylist(rows, schema=schema))
                counts[table.name] += len(rows)
    manifest = {"device_id": device_id, "archived_ms": now_ms, "rows": counts}
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return target, counts
