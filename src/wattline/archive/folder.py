"""A raw archive in a local folder: ``{root}/{category}/{YYYY-MM-DD}/{HH}.jsonl.gz``.

Each batch is appended to its hour's file as one gzip member. Concatenated gzip
members form a valid gzip stream, so appends need no rewriting and a crash can
only leave a torn final member, which the reader skips.

The segment format helpers here are shared with the S3 archive's local spool,
so an object in S3 holds exactly the bytes a folder segment would.
"""

from __future__ import annotations

import base64
import gzip
import os
import zlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson

from wattline.archive.base import HOUR_MS, ArchiveRecord, SegmentInfo, hour_overlaps, in_range

SEGMENT_SUFFIX = ".jsonl.gz"


class FolderArchive:
    def __init__(self, root: Path) -> None:
        self._root = root
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
        for (category, hour_ms), group in segments.items():
            path = self._root / f"{partition_key(category, hour_ms)}{SEGMENT_SUFFIX}"
            append_member(self._root, path, group)

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
        """Nothing is buffered: every append is on disk when it returns."""


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
    """Append records to path as one gzip member and fsync; return the file's new size."""
    created = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    member = gzip.compress(b"".join(_encode(r) for r in records), compresslevel=1, mtime=0)
    with path.open("ab") as file:
        file.write(member)
        file.flush()
        os.fsync(file.fileno())
        size = file.tell()
    if created:
        _fsync_dirs(root, path.parent)
    return size


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


def _encode(record: ArchiveRecord) -> bytes:
    return orjson.dumps(
        {
            "received_ms": record.received_ms,
            "topic": record.topic,
            "outcome": record.outcome,
            "category": record.category,
            "payload_b64": base64.b64encode(record.payload).decode("ascii"),
        },
        option=orjson.OPT_APPEND_NEWLINE,
    )


def decode_segment(data: bytes) -> Iterator[ArchiveRecord]:
    while data:
        decompressor = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        try:
            chunk = decompressor.decompress(data)
        except zlib.error:
            return  # a torn final member from a crash mid-append
        if not decompressor.eof:
            return
        for line in chunk.splitlines():
            item = orjson.loads(line)
            yield ArchiveRecord(
                received_ms=item["received_ms"],
                topic=item["topic"],
                payload=base64.b64decode(item["payload_b64"]),
                outcome=item["outcome"],
                category=item["category"],
            )
        data = decompressor.unused_data
