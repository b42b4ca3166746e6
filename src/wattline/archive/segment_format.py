"""The segment format both archive backends write: gzip members of JSON lines.

One line per message (``received_ms``, ``topic``, ``outcome``, ``category``,
``payload_b64``); each append is one gzip member, so a segment is a plain gzip
stream and a crash mid-append can only tear its last member.
"""

from __future__ import annotations

import base64
import gzip
import zlib
from collections.abc import Callable, Iterator, Sequence

import orjson

from wattline.archive.base import ArchiveRecord

# Each committed batch is compressed as it is archived, on the collector's
# planning thread. ISA-L's deflate writes the same gzip format (read back here by
# zlib, unchanged) about six times as fast as zlib's at level 1, and a little
# smaller: 0.3 against 1.8 us a record for 500 telemetry lines, 18.8 against 19.8
# KB (docs/benchmarks.md, session 25). Where no wheel exists (32-bit ARM, say)
# the standard library's gzip writes it.
_compress: Callable[..., bytes]
try:
    from isal import igzip

    _compress = igzip.compress
except ImportError:  # pragma: no cover - exercised by reloading without isal (tests)
    _compress = gzip.compress

# One record's line, the fields in this order. Every batch the collector commits is
# archived first, a line per message: filling a template (strings through orjson,
# so escaping is its; base64 needs none) costs a third of building a dict for
# orjson to serialise (0.6 against 1.8 us a record).
_LINE = b'{"received_ms":%d,"topic":%s,"outcome":%s,"category":%s,"payload_b64":"%s"}\n'


def encode_lines(records: Sequence[ArchiveRecord]) -> bytes:
    dumps, b64encode = orjson.dumps, base64.b64encode
    return b"".join(
        [
            _LINE
            % (
                r.received_ms,
                dumps(r.topic),
                dumps(r.outcome),
                dumps(r.category),
                b64encode(r.payload),
            )
            for r in records
        ]
    )


def encode_member(records: Sequence[ArchiveRecord]) -> bytes:
    """Records as one gzip member of JSON lines, compressed fast (one per append)."""
    return _compress(encode_lines(records), compresslevel=1, mtime=0)


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
