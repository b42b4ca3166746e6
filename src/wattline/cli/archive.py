"""``wattline archive``: read the raw archive back, wherever it is kept, and replay it
into the store (disaster recovery: docs/operations.md)."""

from __future__ import annotations

import base64
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from wattline.archive.base import ArchiveRecord, RawArchive, hour_overlaps
from wattline.archive.folder import hour_start_ms
from wattline.cli.options import (
    ArchiveUrl,
    DatabaseUrl,
    DataDir,
    console,
    fail,
    settings_from,
)
from wattline.model.times import iso_ms
from wattline.runtime.errors import StartupError
from wattline.transfer.rebuild import DEFAULT_BATCH, MAX_DEVICES, parse_devices, replay_archive
from wattline.transfer.replay_order import in_time_order

if TYPE_CHECKING:
    from pathlib import Path

    from rich.progress import Progress

T = TypeVar("T")

app = typer.Typer(
    name="archive",
    help="Read the raw archive back, or replay it into the store.",
    no_args_is_help=True,
)

Category = Annotated[
    str | None, typer.Option("--category", help="telemetry, hello, status, rejected, ...")
]
Since = Annotated[str | None, typer.Option("--since", help="ISO time, inclusive; UTC if no offset")]
Until = Annotated[str | None, typer.Option("--until", help="ISO time, exclusive; UTC if no offset")]

# Payloads and topics come from devices: escape control characters so a
# message can neither break the one-line-per-message output nor drive the terminal.
_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F)} | {
    ord("\t"): "\\t",
    ord("\n"): "\\n",
    ord("\r"): "\\r",
}
_ESCAPES |= {code: f"\\u{code:04x}" for code in range(0x80, 0xA0)}


@app.command()
def read(  # noqa: PLR0913, PLR0917 - one parameter per documented flag
    category: Category = None,
    since: Since = None,
    until: Until = None,
    topic_contains: Annotated[str | None, typer.Option("--topic-contains")] = None,
    raw: Annotated[bool, typer.Option("--raw", help="payload as base64, byte for byte")] = False,
    data_dir: DataDir = None,
    archive_url: ArchiveUrl = None,
) -> None:
    """Print archived messages, one a line: received time, outcome, topic, payload."""
    since_ms, until_ms = _time_ms(since, "--since"), _time_ms(until, "--until")
    archive = _open(data_dir, archive_url)
    try:
        for record in _guarded(archive.read(category, since_ms=since_ms, until_ms=until_ms)):
            if topic_contains is None or topic_contains in record.topic:
                typer.echo(format_record(record, raw=raw))
    finally:
        archive.close()


@app.command()
def stats(
    category: Category = None, data_dir: DataDir = None, archive_url: ArchiveUrl = None
) -> None:
    """Segments, messages and stored (compressed) bytes per category."""
    archive = _open(data_dir, archive_url)
    try:
        segments: Counter[str] = Counter()
        size_bytes: Counter[str] = Counter()
        for segment in _guarded(iter(archive.segments(category))):
            segments[segment.category] += 1
            size_bytes[segment.category] += segment.size_bytes
        messages = Counter(r.category for r in _guarded(archive.read(category)))
    finally:
        archive.close()
    typer.echo(f"{'category':<16} {'segments':>9} {'messages':>12} {'bytes':>14}")
    for name in sorted(segments):
        typer.echo(f"{name:<16} {segments[name]:>9} {messages[name]:>12} {size_bytes[name]:>14}")


@app.command()
def replay(  # noqa: PLR0913, PLR0917 - one parameter per documented flag
    since: Since = None,
    until: Until = None,
    category: Category = None,
    auto_register: Annotated[
        bool | None,
        typer.Option(
            "--auto-register/--no-auto-register",
            envvar="WATTLINE_AUTO_REGISTER",
            help="register unknown devices (a rebuild without a backup of the registry)",
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=10_000)] = DEFAULT_BATCH,
    devices: Annotated[
        str | None,
        typer.Option("--devices", help=f"comma-separated ids (at most {MAX_DEVICES}); default all"),
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    archive_url: ArchiveUrl = None,
) -> None:
    """Run archived messages through ingest again, into the store: a rebuild after a
    lost database, or the gap between a restored backup and now. Idempotent."""
    from wattline.runtime.backends import open_archive, open_store
    from wattline.runtime.ingest import build_committer

    since_ms, until_ms = _time_ms(since, "--since"), _time_ms(until, "--until")
    if since_ms is not None and until_ms is not None and since_ms >= until_ms:
        fail("--since must be before --until")
    try:
        only = None if devices is None else parse_devices(devices)
    except ValueError as exc:
        fail(str(exc))
    settings = settings_from(
        data_dir=data_dir,
        database_url=database_url,
        archive_url=archive_url,
        auto_register=auto_register,
    )
    try:
        archive = open_archive(settings, read_only=True)
        store = open_store(settings)
    except ValueError as exc:
        fail(str(exc))
    try:
        committer = build_committer(settings, store, archive)
        hours = replayed_hours(archive, category, since_ms, until_ms)
        records = in_time_order(archive, category, since_ms, until_ms)
        with _progress() as bar:
            task = bar.add_task("replaying", total=len(hours), messages=0)
            summary = replay_archive(
                _guarded(_advancing(records, lambda: bar.advance(task))),
                committer,
                batch_size,
                progress=lambda n: bar.update(task, messages=bar.tasks[0].fields["messages"] + n),
                devices=only,
                states=store,
            )
            bar.update(task, completed=len(hours))
    except StartupError as exc:
        fail(str(exc))
    finally:
        store.close()
        archive.close()
    console.print(
        f"replayed {summary.messages} messages: {summary.samples_inserted} samples stored; "
        f"already there: {summary.samples_duplicate} samples, "
        f"{summary.readings_duplicate} readings (by seq); "
        f"{sum(summary.quarantined.values())} quarantined"
    )
    for reason, count in summary.quarantined.most_common():
        console.print(f"  {reason}: {count}")


@app.command()
def compact(
    data_dir: DataDir = None,
    archive_url: ArchiveUrl = None,
) -> None:
    """Rewrite the small segments of closed hours into larger ones now (the retention
    job does it every WATTLINE_RETENTION_INTERVAL_S); safe beside a running Wattline."""
    archive = _open(data_dir, archive_url)
    try:
        report = archive.compact(int(time.time() * 1000))
    except _archive_errors() as exc:
        fail(f"cannot compact the archive: {exc}", code=1)
    finally:
        archive.close()
    console.print(f"compacted {report.describe()}")


def replayed_hours(
    archive: RawArchive, category: str | None, since_ms: int | None, until_ms: int | None
) -> list[int]:
    """The UTC hours a replay reads, in order: the progress bar's steps."""
    found = {
        segment.hour_ms
        for segment in _guarded(iter(archive.segments(category)))
        if hour_overlaps(segment.hour_ms, since_ms, until_ms)
    }
    return sorted(found)


def _advancing(
    records: Iterator[ArchiveRecord], advance: Callable[[], None]
) -> Iterator[ArchiveRecord]:
    """The records (in receive time order), calling advance() as each hour is done."""
    current: int | None = None
    for record in records:
        hour_ms = hour_start_ms(record.received_ms)
        if current is not None and hour_ms > current:
            advance()
        current = hour_ms if current is None else max(current, hour_ms)
        yield record


def _progress() -> Progress:
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[messages]} messages"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def format_record(record: ArchiveRecord, *, raw: bool) -> str:
    if raw:
        payload = base64.b64encode(record.payload).decode("ascii")
    else:
        payload = record.payload.decode("utf-8", errors="replace")
    fields = (iso_ms(record.received_ms), record.outcome, record.topic, payload)
    return "\t".join(field.translate(_ESCAPES) for field in fields)


def _open(data_dir: Path | None, archive_url: str | None) -> RawArchive:
    from wattline.runtime.backends import open_archive

    settings = settings_from(data_dir=data_dir, archive_url=archive_url)
    try:
        return open_archive(settings, read_only=True)
    except ValueError as exc:
        fail(str(exc))


def _guarded(items: Iterator[T]) -> Iterator[T]:
    """Turn a store outage mid-read into one line instead of a traceback."""
    try:
        yield from items
    except _archive_errors() as exc:
        fail(f"cannot read the archive: {exc}")


def _archive_errors() -> tuple[type[Exception], ...]:
    """S3's errors, when the archive is in S3: botocore is loaded only then (a folder
    archive raises none of them, and `wattline` starts without botocore)."""
    if "botocore" not in sys.modules:
        return ()
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def _time_ms(text: str | None, flag: str) -> int | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{flag} {text!r} is not an ISO time, e.g. 2025-11-25T08:00:00Z")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
