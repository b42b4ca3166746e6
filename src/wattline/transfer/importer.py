"""Import historical CSV or Parquet through the live ingest path.

Each reading in the file becomes the canonical telemetry message a device
would have sent (``{prefix}/{device_id}/telemetry`` with ``{"ts", "metrics"}``)
and goes through the same ``Committer`` as live data: the same decoding,
validation, registry check, sequence rules and deduplication. A rejected
reading is quarantined with its reason, and the raw archive keeps every
message, exactly as for live data.

Accepted layouts:

- wide, as ``wattline export`` writes it: ``device_id, timestamp, <metric>...``
  (``day_of_week`` and ``hour_of_day`` are derived and ignored);
- long: ``device_id, timestamp, metric, value``; consecutive rows with the same
  device and timestamp form one reading.
"""

from __future__ import annotations

import csv
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from wattline.ingest.committer import Committer
from wattline.model.messages import InboundMessage
from wattline.transfer.export import TIME_COLUMNS

DEFAULT_BATCH = 1000
LONG_COLUMNS = ("device_id", "timestamp", "metric", "value")
_IGNORED = frozenset(("device_id", "timestamp", *TIME_COLUMNS))

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class FileReading:
    """One reading as the file has it: values not yet validated."""

    device_id: str
    ts: Any  # epoch ms or an RFC 3339 string; the canonical rules judge it
    metrics: dict[str, Any]
    rows: int  # file rows it came from


@dataclass(slots=True)
class ImportSummary:
    rows: int = 0
    readings: int = 0
    readings_accepted: int = 0
    samples_inserted: int = 0
    samples_duplicate: int = 0
    samples_corrected: int = 0
    # reason -> readings rejected (and quarantined) for it
    rejected: Counter[str] = field(default_factory=Counter)


def count_rows(path: Path) -> int:
    """Data rows in the file, for the progress bar: Parquet metadata, or one pass over CSV."""
    if _is_parquet(path):
        import pyarrow.parquet as pq  # noqa: PLC0415 - loaded at the first Parquet file

        return int(pq.ParquetFile(path).metadata.num_rows)
    with path.open("rb") as file:
        return max(sum(1 for _ in file) - 1, 0)


def read_file(path: Path, batch_rows: int = 10_000) -> Iterator[FileReading]:
    rows = _parquet_rows(path, batch_rows) if _is_parquet(path) else _csv_rows(path)
    header, body = _peek_columns(rows)
    if set(LONG_COLUMNS) <= set(header):
        return _long_readings(body)
    missing = [c for c in ("device_id", "timestamp") if c not in header]
    if missing:
        raise ValueError(
            f"{path.name}: no {' or '.join(missing)} column; expected device_id, timestamp and "
            "metric columns, or device_id, timestamp, metric, value"
        )
    return _wide_readings(body)


def import_readings(
    readings: Iterable[FileReading],
    committer: Committer,
    topic_prefix: str,
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
) -> ImportSummary:
    summary = ImportSummary()
    batch: list[FileReading] = []
    for reading in readings:
        batch.append(reading)
        if len(batch) >= batch_size:
            _commit(batch, committer, topic_prefix, summary, progress)
            batch = []
    if batch:
        _commit(batch, committer, topic_prefix, summary, progress)
    return summary


def _commit(
    batch: list[FileReading],
    committer: Committer,
    topic_prefix: str,
    summary: ImportSummary,
    progress: Progress | None,
) -> None:
    received_ms = time.time_ns() // 1_000_000
    # Historical: importing a device's past must not make it look alive now.
    messages = [to_message(r, topic_prefix, received_ms) for r in batch]
    plan = committer.plan(messages, historical=True)
    result = committer.commit(plan)
    rows = sum(r.rows for r in batch)
    summary.rows += rows
    summary.readings += len(batch)
    summary.readings_accepted += len(batch) - len(plan.quarantined)
    summary.samples_inserted += result.samples_inserted
    summary.samples_duplicate += result.samples_duplicate
    summary.samples_corrected += result.samples_corrected
    summary.rejected.update(q.reason for q in plan.quarantined)
    if progress is not None:
        progress(rows)


def to_message(reading: FileReading, topic_prefix: str, received_ms: int) -> InboundMessage:
    """The canonical message a device would have sent for this reading."""
    body: dict[str, Any] = {"metrics": reading.metrics}
    if reading.ts is not None:
        body["ts"] = reading.ts
    topic = f"{topic_prefix}/{reading.device_id}/telemetry"
    return InboundMessage(topic, orjson.dumps(body), received_ms, "application/json")


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in {".parquet", ".pq"}


def _peek_columns(
    rows: Iterator[dict[str, Any]],
) -> tuple[list[str], Iterator[dict[str, Any]]]:
    first = next(rows, None)
    if first is None:
        return [], iter(())

    def chained() -> Iterator[dict[str, Any]]:
        yield first
        yield from rows

    return list(first), chained()


def _csv_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as file:
        yield from csv.DictReader(file)


def _parquet_rows(path: Path, batch_rows: int) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq  # noqa: PLC0415 - loaded at the first Parquet file

    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
        yield from batch.to_pylist()


def _wide_readings(rows: Iterable[dict[str, Any]]) -> Iterator[FileReading]:
    for row in rows:
        metrics = {
            name: _value(raw)
            for name, raw in row.items()
            if name not in _IGNORED and raw not in (None, "")
        }
        yield FileReading(_text(row.get("device_id")), _ts(row.get("timestamp")), metrics, 1)


def _long_readings(rows: Iterable[dict[str, Any]]) -> Iterator[FileReading]:
    current: FileReading | None = None
    for row in rows:
        device_id, ts = _text(row.get("device_id")), _ts(row.get("timestamp"))
        name, raw = _text(row.get("metric")), row.get("value")
        if current is not None and (current.device_id, current.ts) == (device_id, ts):
            current.metrics[name] = _value(raw)
            current = FileReading(device_id, ts, current.metrics, current.rows + 1)
            continue
        if current is not None:
            yield current
        current = FileReading(device_id, ts, {name: _value(raw)}, 1)
    if current is not None:
        yield current


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _ts(value: Any) -> Any:
    """Epoch ms for Parquet timestamps and digit strings; other text is left to the rules."""
    if isinstance(value, datetime):
        return round(value.timestamp() * 1000)
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.isdigit():
            return int(stripped)
        return stripped or None
    return value


def _value(raw: Any) -> Any:
    """A number where the text is one; anything else goes on as it is, for the rules to reject."""
    if isinstance(raw, str):
        try:
            number = float(raw)
        except ValueError:
            return raw
        return number if number == number and abs(number) != float("inf") else raw  # noqa: PLR0124
    return raw
