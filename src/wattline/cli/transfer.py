"""``wattline export`` and ``wattline import``: bulk data out and in, with progress bars."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wattline.api.params import parse_fields, parse_time_ms
from wattline.cli.options import DatabaseUrl, DataDir, console, fail, settings_from
from wattline.model.calendar import parse_tz
from wattline.runtime.errors import StartupError
from wattline.transfer.export import ExportFormat, export_to, plan_export

if TYPE_CHECKING:
    from rich.progress import Progress


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
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def export(  # noqa: PLR0913, PLR0917 - one parameter per documented flag
    start: Annotated[str, typer.Option("--start", help="ISO 8601 or epoch ms")],
    end: Annotated[str, typer.Option("--end", help="ISO 8601 or epoch ms, exclusive")],
    to: Annotated[str, typer.Option("--to", help="a folder, or s3://bucket/prefix")],
    devices: Annotated[
        str | None, typer.Option("--devices", help="comma-separated ids; default all")
    ] = None,
    fmt: Annotated[ExportFormat, typer.Option("--format")] = ExportFormat.PARQUET,
    tz: Annotated[
        str, typer.Option("--tz", help="time zone of day_of_week and hour_of_day")
    ] = "UTC",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Stream samples out as CSV or Parquet: one row per device and timestamp."""
    try:
        start_ms, end_ms = parse_time_ms(start, "start"), parse_time_ms(end, "end")
        zone = parse_tz(tz)
    except ValueError as exc:
        fail(str(exc))
    if start_ms >= end_ms:
        fail("--start must be before --end")
    from wattline.runtime.backends import open_store, s3_client

    settings = settings_from(data_dir=data_dir, database_url=database_url)
    store = open_store(settings)
    try:
        spec = plan_export(store, start_ms, end_ms, parse_fields(devices), tz=zone)
    except ValueError as exc:
        store.close()
        fail(str(exc))

    try:
        with _progress() as bar:
            task = bar.add_task(f"export {len(spec.device_ids)} devices", total=spec.span_ms)
            where = export_to(
                store,
                spec,
                fmt,
                to,
                s3_client=s3_client(settings),
                progress=lambda ms: bar.advance(task, ms),
            )
    except ValueError as exc:
        fail(str(exc))
    finally:
        store.close()
    console.print(f"wrote {where}")


def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or Parquet")],
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=10_000)] = 1000,
    auto_register: Annotated[
        bool | None,
        typer.Option(
            "--auto-register/--no-auto-register",
            envvar="WATTLINE_AUTO_REGISTER",
            help="register unknown devices, as live ingest does with this setting",
        ),
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Load historical readings through the same validation as live data.

    Rejected readings go to quarantine with their reason, as live messages do.
    """
    from wattline.runtime.backends import open_archive, open_store
    from wattline.runtime.ingest import build_committer
    from wattline.transfer.importer import count_rows, import_readings, read_file

    # The canonical protocol is the format imported rows are expressed in.
    settings = settings_from(
        data_dir=data_dir,
        database_url=database_url,
        auto_register=auto_register,
        adapters=["canonical"],
    )
    store = open_store(settings)
    archive = open_archive(settings)
    try:
        committer = build_committer(settings, store, archive)
        with _progress() as bar:
            task = bar.add_task(f"import {file.name}", total=count_rows(file))
            summary = import_readings(
                read_file(file),
                committer,
                settings.topic_prefix,
                batch_size,
                lambda rows: bar.advance(task, rows),
            )
    except (ValueError, StartupError) as exc:
        fail(str(exc))
    finally:
        archive.close()
        store.close()
    rejected = sum(summary.rejected.values())
    console.print(
        f"{summary.rows} rows, {summary.readings} readings: {summary.readings_accepted} accepted "
        f"({summary.samples_inserted} samples stored, {summary.samples_duplicate} already there, "
        f"{summary.samples_corrected} corrected), {rejected} rejected"
    )
    for reason, count in summary.rejected.most_common():
        console.print(f"  {reason}: {count}   (wattline quarantine list --reason {reason})")
    if rejected:
        raise typer.Exit(1)
