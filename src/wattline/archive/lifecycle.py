"""Archive lifecycle: expiring old segments and compacting small ones into larger.

Both backends (folder.py, s3.py) implement ``ArchiveLifecycle`` (base.py); the parts
they share live here: which hours are old enough, how segments are grouped, and
decoding a segment only when every byte of it decodes (compaction must never
rewrite a segment it cannot read whole, or it would drop what it skipped).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Sequence

from wattline.archive.base import HOUR_MS, ArchiveRecord, SegmentInfo
from wattline.archive.segment_format import decode_segment, encode_lines

# A closed hour is compacted only this long after it ended: a writer appends
# only to the hour it receives in, and an S3 segment closes at its hour's end
# (plus one upload round), so nothing is written to an hour this old.
COMPACT_GRACE_MS = HOUR_MS
# zlib level for compacted segments: live appends use 1 (cheap, on the ingest
# path); a rewrite off that path can afford 6, zlib's default balance.
COMPACT_LEVEL = 6


def expired(segment: SegmentInfo, cutoff_ms: int) -> bool:
    return segment.hour_ms + HOUR_MS <= cutoff_ms


def compactable(segment: SegmentInfo, now_ms: int) -> bool:
    return segment.hour_ms + HOUR_MS + COMPACT_GRACE_MS <= now_ms


def decode_whole(data: bytes) -> list[ArchiveRecord] | None:
    """Every record of a segment, or None when any byte of it does not decode."""
    records = list(decode_segment(data))
    return records if _members_end(data) else None


def _members_end(data: bytes) -> bool:
    while data:
        decompressor = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        try:
            decompressor.decompress(data)
        except zlib.error:
            return False
        if not decompressor.eof:
            return False
        data = decompressor.unused_data
    return True


def encode_compacted(records: Sequence[ArchiveRecord], compacted_s: int) -> bytes:
    """One gzip member holding every record; its header's MTIME is the compaction time,
    never 0 as in a live append, which marks a folder segment as compacted already."""
    return gzip.compress(encode_lines(records), compresslevel=COMPACT_LEVEL, mtime=compacted_s)


def is_compacted(head: bytes) -> bool:
    """Whether a segment begins with a compacted member (see encode_compacted)."""
    return len(head) >= 8 and head[:2] == b"\x1f\x8b" and head[4:8] != b"\x00\x00\x00\x00"


def small_groups(segments: Sequence[SegmentInfo], target_bytes: int) -> list[list[SegmentInfo]]:
    """Runs of consecutive small segments of one hour, each run up to target_bytes,
    in key order (so the records keep their read order); runs of one are left out."""
    groups: list[list[SegmentInfo]] = []
    run: list[SegmentInfo] = []
    size = 0
    for segment in segments:
        hour_changed = run and (run[0].category, run[0].hour_ms) != (
            segment.category,
            segment.hour_ms,
        )
        too_big = segment.size_bytes >= target_bytes // 2
        if run and (hour_changed or too_big or size + segment.size_bytes > target_bytes):
            groups.append(run)
            run, size = [], 0
        if not too_big:
            run.append(segment)
            size += segment.size_bytes
    if run:
        groups.append(run)
    return [group for group in groups if len(group) > 1]
