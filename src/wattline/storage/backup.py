"""A consistent copy of a SQLite database while Wattline keeps writing to it.

SQLite's online backup API, in one step: the copy is one read transaction, so it
is the database as of one moment, never a torn file (a plain ``cp`` of a WAL
database can be). In WAL mode, Wattline's, a reader never blocks a writer, so
ingest commits beside the copy all along; the WAL only grows until the copy ends.
Copying in several steps instead would restart at every commit of another
connection, and under steady ingest never finish. The copy is written beside the
target, checked with ``PRAGMA integrity_check``, fsynced, then renamed into place.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path


class BackupError(Exception):
    """The copy could not be made, or is not sound."""


@dataclass(frozen=True, slots=True)
class BackupReport:
    target: Path
    pages: int
    size_bytes: int
    seconds: float


def backup_sqlite(
    source: Path,
    target: Path,
) -> BackupReport:
    """Copy ``source`` to ``target``, which must not exist."""
    if not source.exists():
        raise BackupError(f"no database at {source}")
    if target.exists():
        raise BackupError(f"{target} exists already: choose a new file")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    started = time.monotonic()
    # Opened without Wattline's pragmas: the copy only reads.
    with contextlib.closing(sqlite3.connect(source, timeout=30)) as from_db:
        with contextlib.closing(sqlite3.connect(partial)) as to_db:
            try:
                from_db.backup(to_db)
                # A backup is one file: fold the copy's journal in and leave no -wal.
                to_db.execute("PRAGMA journal_mode=DELETE")
                [verdict] = to_db.execute("PRAGMA integrity_check").fetchone()
                [pages] = to_db.execute("PRAGMA page_count").fetchone()
            except sqlite3.Error as exc:
                partial.unlink(missing_ok=True)
                raise BackupError(f"backup of {source} failed: {exc}") from exc
        if verdict != "ok":
            partial.unlink(missing_ok=True)
            raise BackupError(f"the copy of {source} failed its integrity check: {verdict}")
    with partial.open("rb") as file:
        os.fsync(file.fileno())
    partial.replace(target)
    return BackupReport(target, pages, target.stat().st_size, time.monotonic() - started)
