"""A raw archive in a local folder: ``{root}/{category}/{YYYY-MM-DD}/{HH}.jsonl.gz``.

Each batch is appended to its hour's file as one gzip member. Concatenated gzip
members form a valid gzip stream, so appends need no rewriting and a crash can
only leave a torn final member, which the reader skips.
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

from wattline.archive.base import ArchiveRecord


class FolderArchive:
    def __init__(self, root: Path) -> None:
        self._root = root
        root.mkdir(parents=True, exist_ok=True)

    @property
    def root(self) -> Path:
        return self._root

    def append(self, records: Sequence[ArchiveRecord]) -> None:
        segments: dict[Path, list[bytes]] = defaultdict(list)
        for record in records:
            segments[self._segment_path(record)].append(_encode(record))
        for path, lines in segments.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            member = gzip.compress(b"".join(lines), compresslevel=1, mtime=0)
            with path.open("ab") as file:
                file.write(member)
                file.flush()
                os.fsync(file.fileno())

    def read(self, category: str | None = None) -> Iterator[ArchiveRecord]:
        base = self._root / category if category else self._root
        for path in sorted(base.rglob("*.jsonl.gz")):
            yield from _read_segment(path)

    def _segment_path(self, record: ArchiveRecord) -> Path:
        hour = datetime.fromtimestamp(record.received_ms / 1000, tz=UTC)
        return self._root / record.category / hour.strftime("%Y-%m-%d") / f"{hour:%H}.jsonl.gz"


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


def _read_segment(path: Path) -> Iterator[ArchiveRecord]:
    data = path.read_bytes()
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
