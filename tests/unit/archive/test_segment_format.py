"""The archive's JSON lines: the same bytes as serialising each record's dict."""

from __future__ import annotations

import base64
import gzip
import importlib
import sys

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from wattline.archive import segment_format
from wattline.archive.base import ArchiveRecord
from wattline.archive.segment_format import decode_segment, encode_lines, encode_member

# What MQTT can hand over: any text without lone surrogates (UTF-8 on the wire).
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=80)
records = st.builds(
    ArchiveRecord,
    received_ms=st.integers(-(2**63), 2**63 - 1),
    topic=texts,
    payload=st.binary(max_size=300),
    outcome=texts,
    category=texts,
)


def as_dict_line(record: ArchiveRecord) -> bytes:
    """The definition: the record as a JSON object, serialised by orjson, one line."""
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


@given(st.lists(records, max_size=20))
@example([ArchiveRecord(0, 'a"b\\c\n\u2028\x00é', b"\x00\xff", "accepted", "telemetry")])
def test_lines_are_the_records_serialised_as_objects(batch: list[ArchiveRecord]) -> None:
    assert encode_lines(batch) == b"".join(as_dict_line(r) for r in batch)


@given(st.lists(records, min_size=1, max_size=20))
def test_a_segment_member_reads_back_as_the_records(batch: list[ArchiveRecord]) -> None:
    assert list(decode_segment(gzip.compress(encode_lines(batch)))) == batch


@given(st.lists(records, max_size=20))
def test_a_member_is_gzip_any_reader_takes(batch: list[ArchiveRecord]) -> None:
    member = encode_member(batch)
    assert gzip.decompress(member) == encode_lines(batch)
    assert list(decode_segment(member + encode_member(batch[:1]))) == [*batch, *batch[:1]]


def test_the_member_is_isal_s_where_it_is_installed() -> None:
    # The lock installs isal on this machine's architecture: the fast path is the one run.
    isal_gzip = pytest.importorskip("isal.igzip")
    assert segment_format._compress is isal_gzip.compress


def test_without_isal_the_standard_library_writes_the_same_format(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batch = [ArchiveRecord(1, "wattline/t/d/telemetry", b'{"v": 1}', "accepted", "telemetry")]
    monkeypatch.setitem(sys.modules, "isal", None)  # import isal now raises ImportError
    try:
        fallback = importlib.reload(segment_format)
        assert fallback._compress is gzip.compress
        assert list(decode_segment(fallback.encode_member(batch))) == batch
    finally:
        monkeypatch.undo()
        importlib.reload(segment_format)
