"""A raw archive in a local folder: ``{root}/{category}/{YYYY-MM-DD}/{HH}.jsonl.gz``.

Each batch is appended to its hour's file as one gzip member. Concatenated gzip
members form a valid gzip stream, so appends need no rewriting and a crash can
only leave a torn final member, which the reader skips.

The segment format helpers here are shared with the S3 archive's local spool,
so an object in S3 holds exactly the bytes a folder segment would.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from wattline.archive.base import (
    HOUR_MS,
    ArchiveRecord,
    CompactionReport,
    SegmentInfo,
    hour_overlaps,
    in_range,
)
from wattline.archive.lifecycle import (
    compactable,
    decode_whole,
    encode_compacted,
    expired,
    is_compacted,
)
from wattline.archive.segment_format import decode_segment, encode_member

SEGMENT_SUFFIX = ".jsonl.gz"
# Writes durable as they return (Linux, the BSDs, macOS); elsewhere an fsync follows.
_DSYNC: int = getattr(os, "O_DSYNC", 0)


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class FolderArchive:
    """Appends go to the hour's file, kept open while the hour runs (``clock_ms``:
    epoch milliseconds) and written with O_DSYNC, so that an append is one write
    system call, durable when it returns. Each call that leaves the GIL (open,
    fstat, write, fsync, seek, close) costs the collector's planner a wait to get
    it back, up to the switch interval (5 ms) when another thread is busy, as the
    event loop writing WebSockets is in ``wattline up``: py-spy found the archive's
    append in nearly all of the planner's working time there, about 5 ms an append
    (docs/benchmarks.md, session 26).
    """

    def __init__(self, root: Path, clock_ms: Callable[[], int] = _wall_clock_ms) -> None:
        self._root = root
        self._clock_ms = clock_ms
        # path -> (descriptor, end of its hour in epoch ms)
        self._current: dict[Path, tuple[int, int]] = {}
        self._lock = threading.Lock()
        root.mkdir(parents=True, exist_ok=True)

    @property
    def root(self) -> Path:
        return self._root

    def append(self, records: Sequence[ArchiveRecord]) -> None:
        # Grouped by plain (category, hour) first: naming the file once per group,
        # not once per record, keeps this off the ingest profile.
        segments: dict[tuple[str, int], list[ArchiveRecord]] = defaultdict(list)
        for record in records:
            segments[record.category, hour_start_ms(record.received_ms)].append(record)
        now_ms = self._clock_ms()
        with self._lock:
            self._close_ended(now_ms)
            for (category, hour_ms), group in segments.items():
                path = self._root / f"{partition_key(category, hour_ms)}{SEGMENT_SUFFIX}"
                if now_ms >= hour_ms + HOUR_MS:
                    append_member(self._root, path, group)  # a past hour's: not kept open
                    continue
                kept = self._current.get(path)
                if kept is None:
                    kept = self._current[path] = open_appending(self._root, path), hour_ms + HOUR_MS
                write_durably(kept[0], encode_member(group))

    def _close_ended(self, now_ms: int) -> None:
        """Close the files of hours that have ended: compaction and retention replace
        or remove only those, so a file kept open is never one they have swapped."""
        for path in [p for p, (_, end_ms) in self._current.items() if end_ms <= now_ms]:
            os.close(self._current.pop(path)[0])

    def read(
        self,
        category: str | None = None,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> Iterator[ArchiveRecord]:
        for segment in self.segments(category):
            if hour_overlaps(segment.hour_ms, since_ms, until_ms):
                data = (self._root / segment.key).read_bytes()
                yield from (r for r in decode_segment(data) if in_range(r, since_ms, until_ms))

    def segments(self, category: str | None = None) -> list[SegmentInfo]:
        base = self._root / category if category else self._root
        return [
            segment_info(path.relative_to(self._root).as_posix(), path.stat().st_size, "local")
            for path in sorted(base.rglob(f"*{SEGMENT_SUFFIX}"))
        ]

    def close(self) -> None:
        """Nothing is buffered (every append is on disk when it returns); the open
        files are closed."""
        with self._lock:
            while self._current:
                os.close(self._current.popitem()[1][0])

    def expire_before(self, cutoff_ms: int) -> int:
        removed = 0
        for segment in self.segments():
            if expired(segment, cutoff_ms):
                path = self._root / segment.key
                path.unlink(missing_ok=True)
                remove_empty_dirs(self._root, path.parent)
                removed += 1
        return removed

    def compact(self, now_ms: int, stop: threading.Event | None = None) -> CompactionReport:
        """Rewrite each closed hour's segment, one gzip member per ingest batch, as one
        member at a higher compression level: a quiet fleet's batches of one message
        cost ~7x the bytes of large ones (docs/operations.md, sizing).

        The rewrite is written beside the segment, fsynced and renamed over it:
        an interruption leaves either the old or the new file, never neither.
        """
        report = CompactionReport()
        for segment in self.segments():
            if stop is not None and stop.is_set():
                break
            path = self._root / segment.key
            if not compactable(segment, now_ms) or _compacted_already(path):
                continue
            data = path.read_bytes()
            records = decode_whole(data)
            if records is None:
                report += CompactionReport(skipped=(segment.key,))
                continue
            compacted = encode_compacted(records, now_ms // 1000)
            _replace_durably(path, compacted)
            report += CompactionReport(1, 1, len(data), len(compacted))
        return report


def hour_start_ms(received_ms: int) -> int:
    return received_ms - received_ms % HOUR_MS


def partition_key(category: str, hour_ms: int) -> str:
    """``{category}/{YYYY-MM-DD}/{HH}``, the UTC hour the records were received in."""
    hour = datetime.fromtimestamp(hour_ms / 1000, tz=UTC)
    return f"{category}/{hour:%Y-%m-%d}/{hour:%H}"


def segment_info(key: str, size_bytes: int, location: str) -> SegmentInfo:
    """Describe a segment from its key: ``{category}/{date}/{HH}...`` (folder or S3 layout)."""
    category, day, hour = key.split("/")[:3]
    start = datetime.strptime(f"{day} {hour[:2]}", "%Y-%m-%d %H").replace(tzinfo=UTC)
    return SegmentInfo(category, key, int(start.timestamp()) * 1000, size_bytes, location)


def append_member(root: Path, path: Path, records: Sequence[ArchiveRecord]) -> int:
    """Append records to path as one gzip member, durably; return the file's new size."""
    fd = open_appending(root, path)
    try:
        write_durably(fd, encode_member(records))
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)


def open_appending(root: Path, path: Path) -> int:
    """A descriptor appending to path (made, with its folders, if missing), whose
    writes are durable when they return where the platform has O_DSYNC."""
    # The hour's file exists for all but its first append: open it straight away,
    # without a stat and a mkdir first.
    flags = os.O_WRONLY | os.O_APPEND | _DSYNC
    try:
        return os.open(path, flags)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, flags | os.O_CREAT, 0o666)
    _fsync_dirs(root, path.parent)
    return fd


def write_durably(fd: int, data: bytes) -> None:
    """Write all of data to fd, on disk when this returns (O_DSYNC makes the write
    itself wait for the disk, as fdatasync would: the data and the file's size)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    if not _DSYNC:  # pragma: no cover - every platform Wattline runs on has it
        os.fsync(fd)


def _compacted_already(path: Path) -> bool:
    with path.open("rb") as file:
        return is_compacted(file.read(8))


def _replace_durably(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".compacting")
    with partial.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    partial.replace(path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_empty_dirs(root: Path, directory: Path) -> None:
    """Prune the folders below root that a removal emptied, from directory upwards
    (the archive's day and category folders; the S3 spool's too)."""
    while directory != root and root in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return  # not empty
        directory = directory.parent


def _fsync_dirs(root: Path, directory: Path) -> None:
    """Make a new file's directory entries durable too, up to the archive root:
    fsync on the file alone does not survive a power cut if its name was never written."""
    for current in (directory, *directory.parents):
        fd = os.open(current, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if current == root or root not in current.parents:
            return
