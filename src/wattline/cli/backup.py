"""``wattline backup`` and ``wattline restore``: a consistent copy of the SQLite database,
while Wattline runs, and putting one back while it does not."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wattline.cli.options import DatabaseUrl, DataDir, console, fail, settings_from
from wattline.storage.backup import BackupError, backup_sqlite, restore_sqlite

_MIB = 1024 * 1024


def backup(
    target: Annotated[Path, typer.Argument(help="the file to write (must not exist)")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Copy the SQLite database with SQLite's online backup; ingest goes on meanwhile.

    PostgreSQL is backed up with its own tools (pg_dump, or a base backup with WAL
    archiving): see docs/operations.md, "Backup and restore".
    """
    settings = settings_from(data_dir=data_dir, database_url=database_url)
    if settings.database_url is not None:
        fail(
            "the database is PostgreSQL: back it up with pg_dump --format=custom "
            "(docs/operations.md, 'Backup and restore')"
        )
    try:
        report = backup_sqlite(settings.database_path, target)
    except BackupError as exc:
        fail(str(exc), code=1)
    console.print(
        f"backed up {settings.database_path} to {report.target}: {report.pages} pages, "
        f"{report.size_bytes / _MIB:.1f} MiB in {report.seconds:.1f} s, integrity ok"
    )


def restore(
    source: Annotated[Path, typer.Argument(help="a file written by `wattline backup`")],
    force: Annotated[
        bool, typer.Option("--force", help="replace an existing database (it is kept aside)")
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Put a backup in place of the SQLite database; refused while Wattline has it open.

    Then start Wattline (migrations bring an older backup up to date) and replay
    what came after the backup: `wattline archive replay --since <backup time>`.
    """
    settings = settings_from(data_dir=data_dir, database_url=database_url)
    if settings.database_url is not None:
        fail(
            "the database is PostgreSQL: restore it with pg_restore "
            "(docs/operations.md, 'Backup and restore')"
        )
    try:
        report = restore_sqlite(source, settings.database_path, force=force)
    except BackupError as exc:
        fail(str(exc), code=1)
    for path in report.kept_aside:
        console.print(f"kept the replaced {path.name.split('.before-restore-')[0]} as {path}")
    console.print(
        f"restored {source} to {report.target} ({report.size_bytes / _MIB:.1f} MiB); "
        "start Wattline, then replay the archive from a few minutes before the backup"
    )
