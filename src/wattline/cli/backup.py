"""``wattline backup``: a consistent copy of the SQLite database, while Wattline runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wattline.cli.options import DatabaseUrl, DataDir, console, fail, settings_from
from wattline.storage.backup import BackupError, backup_sqlite

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
