"""The segment format both archive backends write: gzip members of JSON lines.

One line per message (``received_ms``, ``topic``, ``outcome``, ``category``,
``payload_b64``); each append is one gzip member, so a segment is a plain gzip
stream and a crash mid-append can only tear its last member.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterator, Sequence

import orjson

from wattline.archive.base import ArchiveRecord


def encode_lines(records: Sequence[ArchiveRecord]) -> bytes:
    return b"".join(_encode(r) for r in records)


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
