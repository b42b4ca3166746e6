"""Export stored samples as CSV or Parquet, streamed page by page.

One row per (device, timestamp): ``device_id``, ``timestamp`` (UTC), one column
per metric (empty where the device did not report it), ``day_of_week``
(ISO 8601: 1 = Monday ... 7 = Sunday, as the smart-plug seed's training data
counts) and ``hour_of_day`` in the export's time zone: the shape a
model-training pipeline reads directly. Never holds more than one page of
readings in memory; a Parquet file gets one row group per page.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from zoneinfo import ZoneInfo

from wattline.model.times import iso_ms
from wattline.storage.base import RawPoint
from wattline.storage.ports import TelemetryStore
from wattline.storage.series import DEFAULT_PAGE, iter_points

if TYPE_CHECKING:
    import pyarrow as pa
    from mypy_boto3_s3 import S3Client

# Fixed columns; a metric with one of these names would be ambiguous and is left out.
ID_COLUMNS = ("device_id", "timestamp")
TIME_COLUMNS = ("day_of_week", "hour_of_day")
RESERVED = frozenset((*ID_COLUMNS, *TIME_COLUMNS))

Progress = Callable[[int], None]
_NO_SEPARATORS = str.maketrans("", "", "-:")


class ExportFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"

    @property
    def media_type(self) -> str:
        return "text/csv" if self is ExportFormat.CSV else "application/vnd.apache.parquet"


@dataclass(frozen=True, slots=True)
class ExportSpec:
    start_ms: int
    end_ms: int
    device_ids: tuple[str, ...]
    metrics: tuple[str, ...]
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    page: int = DEFAULT_PAGE

    @property
    def span_ms(self) -> int:
        """The progress total: the time range once per device."""
        return (self.end_ms - self.start_ms) * len(self.device_ids)

    def file_name(self, fmt: ExportFormat) -> str:
        def stamp(ts_ms: int) -> str:
            # the one formatter's fields without separators: 20251125T080000Z
            return iso_ms(ts_ms).translate(_NO_SEPARATORS)[:15] + "Z"

        return f"wattline-{stamp(self.start_ms)}-{stamp(self.end_ms)}.{fmt.value}"


def plan_export(  # noqa: PLR0913 - the range and selection, then keyword-only options
    store: TelemetryStore,
    start_ms: int,
    end_ms: int,
    device_ids: Sequence[str] | None = None,
    *,
    tz: ZoneInfo | None = None,
    page: int = DEFAULT_PAGE,
) -> ExportSpec:
    """Which devices and metric columns an export has; raises ValueError for unknown devices.

    None exports every device of every tenant (the operator's command line); the
    API resolves a tenant's devices first and passes them, so a list is never widened.
    """
    if device_ids is None:
        known = store.all_device_ids()
    else:
        found = store.existing_devices(device_ids)
        unknown = sorted(set(device_ids) - found)
        if unknown:
            raise ValueError(f"unknown devices: {', '.join(unknown[:20])}")
        known = sorted(set(device_ids))
    # `latest` holds every metric a device has ever reported: the columns, known up front,
    # which a Parquet schema needs before the first row is written.
    latest = store.latest_values(known)
    metrics = sorted({v.metric for values in latest.values() for v in values} - RESERVED)
    return ExportSpec(start_ms, end_ms, tuple(known), tuple(metrics), tz or ZoneInfo("UTC"), page)


@dataclass(frozen=True, slots=True)
class Page:
    device_id: str
    points: list[RawPoint]
    done_ms: int  # progress: how much of the spec's span this page completes


def iter_pages(store: TelemetryStore, spec: ExportSpec) -> Iterator[Page]:
    for device_id in spec.device_ids:
        cursor_ms = spec.start_ms
        batch: list[RawPoint] = []
        for point in iter_points(store, device_id, spec.start_ms, spec.end_ms, page=spec.page):
            batch.append(point)
            if len(batch) >= spec.page:
                yield Page(device_id, batch, point.ts_ms + 1 - cursor_ms)
                cursor_ms, batch = point.ts_ms + 1, []
        yield Page(device_id, batch, spec.end_ms - cursor_ms)


def _schema(spec: ExportSpec) -> pa.Schema:
    import pyarrow as pa  # noqa: PLC0415 - loaded at the first Parquet export, not at start-up

    return pa.schema(
        [
            ("device_id", pa.string()),
            ("timestamp", pa.timestamp("ms", tz="UTC")),
            *[(name, pa.float64()) for name in spec.metrics],
            ("day_of_week", pa.int8()),
            ("hour_of_day", pa.int8()),
        ]
    )


def _local_parts(points: Sequence[RawPoint], tz: ZoneInfo) -> tuple[list[int], list[int]]:
    moments = [datetime.fromtimestamp(p.ts_ms / 1000, tz=UTC).astimezone(tz) for p in points]
    return [m.isoweekday() for m in moments], [m.hour for m in moments]


def _table(spec: ExportSpec, page: Page) -> pa.Table:
    import pyarrow as pa  # noqa: PLC0415 - loaded at the first Parquet export, not at start-up

    points = page.points
    days, hours = _local_parts(points, spec.tz)
    columns: dict[str, list[object]] = {
        "device_id": [page.device_id] * len(points),
        "timestamp": [p.ts_ms for p in points],
        **{name: [p.metrics.get(name) for p in points] for name in spec.metrics},
        "day_of_week": list(days),
        "hour_of_day": list(hours),
    }
    return pa.table(columns, schema=_schema(spec))


def _csv_rows(spec: ExportSpec, page: Page) -> Iterator[list[object]]:
    days, hours = _local_parts(page.points, spec.tz)
    for point, day, hour in zip(page.points, days, hours, strict=True):
        # repr() of a float reads back as the same float: the round trip is exact.
        values = [repr(point.metrics[m]) if m in point.metrics else "" for m in spec.metrics]
        yield [page.device_id, iso_ms(point.ts_ms), *values, day, hour]


class _Drain(io.RawIOBase):
    """A write-only sink whose bytes are taken out after each page: streaming without a file."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = bytes(data)
        self._chunks.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def take(self) -> bytes:
        data, self._chunks = b"".join(self._chunks), []
        return data


def iter_export_bytes(
    store: TelemetryStore,
    spec: ExportSpec,
    fmt: ExportFormat,
    progress: Progress | None = None,
) -> Iterator[bytes]:
    """The export file, page by page, as bytes: for HTTP streaming and for files alike."""
    if fmt is ExportFormat.CSV:
        yield from _iter_csv(store, spec, progress)
        return
    import pyarrow.parquet as pq  # noqa: PLC0415 - loaded at the first Parquet export

    sink = _Drain()
    with pq.ParquetWriter(sink, _schema(spec)) as parquet:
        for page in iter_pages(store, spec):
            if page.points:
                parquet.write_table(_table(spec, page))
            yield sink.take()
            if progress is not None:
                progress(page.done_ms)
    yield sink.take()


def _iter_csv(
    store: TelemetryStore, spec: ExportSpec, progress: Progress | None
) -> Iterator[bytes]:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow([*ID_COLUMNS, *spec.metrics, *TIME_COLUMNS])
    for page in iter_pages(store, spec):
        writer.writerows(_csv_rows(spec, page))
        yield text.getvalue().encode()
        text.seek(0)
        text.truncate()
        if progress is not None:
            progress(page.done_ms)


def write_export(
    store: TelemetryStore,
    spec: ExportSpec,
    fmt: ExportFormat,
    out: BinaryIO,
    progress: Progress | None = None,
) -> int:
    """Writes the export to a binary file; returns the bytes written."""
    written = 0
    for chunk in iter_export_bytes(store, spec, fmt, progress):
        out.write(chunk)
        written += len(chunk)
    return written


def export_to(  # noqa: PLR0913 - what and where, then keyword-only options
    store: TelemetryStore,
    spec: ExportSpec,
    fmt: ExportFormat,
    destination: str,
    *,
    s3_client: Callable[[], S3Client] | None = None,
    progress: Progress | None = None,
) -> str:
    """Exports into a folder or ``s3://bucket/prefix``; returns where the file went."""
    name = spec.file_name(fmt)
    if not destination.startswith("s3://"):
        folder = Path(destination)
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / name).open("wb") as out:
            write_export(store, spec, fmt, out, progress)
        return str(folder / name)
    bucket, _, prefix = destination.removeprefix("s3://").partition("/")
    if not bucket or s3_client is None:
        raise ValueError(f"{destination!r} is not s3://bucket[/prefix]")
    key = f"{prefix.strip('/')}/{name}" if prefix.strip("/") else name
    # Spooled to a temporary file, then uploaded (multipart above 8 MiB): memory
    # stays bounded by one page whatever the range.
    with tempfile.TemporaryFile() as spool:
        write_export(store, spec, fmt, spool, progress)
        spool.seek(0)
        s3_client().upload_fileobj(spool, bucket, key)
    return f"s3://{bucket}/{key}"
