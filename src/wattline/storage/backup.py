"""A consistent copy of a SQLite database while Wattline keeps writing to it, and its restore.

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
import fcntl
import os
import shutil
import sqlite3
import struct
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


@dataclass(frozen=True, slots=True)
class RestoreReport:
    target: Path
    size_bytes: int
    # the files a forced restore moved aside instead of deleting
    kept_aside: tuple[Path, ...]


# SQLite's WAL index (the -shm file): every open connection holds a shared
# fcntl lock on this byte (the "DMS" lock, WALINDEX_LOCK_OFFSET 120 + 8) while
# it is open, so a lock another process holds there means the database is in use.
_SHM_DMS_OFFSET = 128


def restore_sqlite(backup: Path, target: Path, *, force: bool = False) -> RestoreReport:
    """Put a ``backup_sqlite`` copy in place of ``target``.

    Refused while another process has ``target`` open (stop Wattline first), and
    when ``target`` exists unless ``force``: then the old files are renamed aside
    (``*.before-restore-<time>``), never deleted. The backup is checked first and
    copied beside the target, fsynced, then renamed into place.
    """
    _check_backup(backup)
    if database_in_use(target):
        raise BackupError(f"{target} is in use by another process: stop Wattline first")
    existing = [p for p in _database_files(target) if p.exists()]
    if existing and not force:
        raise BackupError(f"{target} exists: pass --force to replace it (it is kept aside)")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    shutil.copyfile(backup, partial)
    with partial.open("rb") as file:
        os.fsync(file.fileno())
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    kept = []
    for path in existing:
        aside = path.with_name(f"{path.name}.before-restore-{stamp}")
        path.replace(aside)
        kept.append(aside)
    partial.replace(target)
    _fsync_dir(target.parent)
    return RestoreReport(target, target.stat().st_size, tuple(kept))


def database_in_use(database: Path) -> bool:
    """Whether another process has the (WAL-mode) database open."""
    shm = database.with_name(database.name + "-shm")
    try:
        fd = os.open(shm, os.O_RDONLY)
    except FileNotFoundError:
        return False  # no connection in WAL mode without its index
    try:
        # F_GETLK asks without taking a lock: a write lock on the DMS byte
        # would conflict with any connection's read lock there.
        query = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, _SHM_DMS_OFFSET, 1, 0)
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, query + b"\0" * 4)
        [lock_type] = struct.unpack_from("h", answer)
        return bool(lock_type != fcntl.F_UNLCK)
    finally:
        os.close(fd)


def _check_backup(backup: Path) -> None:
    if not backup.is_file():
        raise BackupError(f"no backup at {backup}")
    try:
        with contextlib.closing(sqlite3.connect(f"{backup.as_uri()}?mode=ro", uri=True)) as db:
            [verdict] = db.execute("PRAGMA integrity_check").fetchone()
            tables = {name for [name] in db.execute("SELECT name FROM sqlite_master")}
    except sqlite3.Error as exc:
        raise BackupError(f"{backup} is not a SQLite database: {exc}") from exc
    if verdict != "ok":
        raise BackupError(f"{backup} failed its integrity check: {verdict}")
    if "devices" not in tables:
        raise BackupError(f"{backup} is not a Wattline database (it has no devices table)")


def _database_files(database: Path) -> list[Path]:
    return [database, *(database.with_name(database.name + s) for s in ("-wal", "-shm"))]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
