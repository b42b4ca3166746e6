"""``wattline archive``: read the raw archive back, wherever it is kept, and replay it
into the store (disaster recovery: docs/operations.md)."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from botocore.exceptions import BotoCoreError, ClientError

from wattline.archive.base import ArchiveRecord, RawArchive
from wattline.cli.options import (
    ArchiveUrl,
    DatabaseUrl,
    DataDir,
    console,
    fail,
    settings_from,
)
from wattline.model.times import iso_ms
from wattline.runtime.backends import open_archive, open_store
from wattline.runtime.errors import StartupError
from wattline.runtime.ingest import build_committer
from wattline.transfer.rebuild import DEFAULT_BATCH, replay_archive

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
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    archive_url: ArchiveUrl = None,
) -> None:
    """Run archived messages through ingest again, into the store: a rebuild after a
    lost database, or the gap between a restored backup and now. Idempotent."""
    since_ms, until_ms = _time_ms(since, "--since"), _time_ms(until, "--until")
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
        records = archive.read(category, since_ms=since_ms, until_ms=until_ms)
        summary = replay_archive(_guarded(records), committer, batch_size)
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


def format_record(record: ArchiveRecord, *, raw: bool) -> str:
    if raw:
        payload = base64.b64encode(record.payload).decode("ascii")
    else:
        payload = record.payload.decode("utf-8", errors="replace")
    fields = (iso_ms(record.received_ms), record.outcome, record.topic, payload)
    return "\t".join(field.translate(_ESCAPES) for field in fields)


def _open(data_dir: Path | None, archive_url: str | None) -> RawArchive:
    settings = settings_from(data_dir=data_dir, archive_url=archive_url)
    try:
        return open_archive(settings, read_only=True)
    except ValueError as exc:
        fail(str(exc))


def _guarded(items: Iterator[T]) -> Iterator[T]:
    """Turn a store outage mid-read into one line instead of a traceback."""
    try:
        yield from items
    except (BotoCoreError, ClientError) as exc:
        fail(f"cannot read the archive: {exc}")


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
