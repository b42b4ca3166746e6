"""The live benchmark's bare WebSocket client (benchmarks/raw_ws.py): frames in and out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.benchmark_modules import load_benchmark

raw_ws = load_benchmark("raw_ws")


def server_frame(opcode: int, payload: bytes) -> bytes:
    """An unmasked frame as a server sends it (RFC 6455, section 5.2)."""
    size = len(payload)
    if size <= 125:
        return bytes([0x80 | opcode, size]) + payload
    if size < 1 << 16:
        return bytes([0x80 | opcode, 126]) + size.to_bytes(2, "big") + payload
    return bytes([0x80 | opcode, 127]) + size.to_bytes(8, "big") + payload


frames = st.lists(
    st.tuples(
        st.sampled_from([0x1, 0x8, 0x9, 0xA]),
        st.one_of(st.binary(max_size=200), st.binary(min_size=65_530, max_size=65_600)),
    ),
    max_size=6,
)


@given(frames, st.lists(st.integers(min_value=1, max_value=70_000), max_size=10))
def test_frames_come_out_whole_however_the_stream_is_cut(
    sent: list[tuple[int, bytes]], cuts: list[int]
) -> None:
    stream = b"".join(server_frame(opcode, payload) for opcode, payload in sent)
    splitter = raw_ws.FrameSplitter()
    received: list[tuple[int, bytes]] = []
    at = 0
    for cut in sorted(c % (len(stream) + 1) for c in cuts):
        received += splitter.feed(stream[at:cut] if cut > at else b"")
        at = max(at, cut)
    received += splitter.feed(stream[at:])
    assert received == sent


@given(st.sampled_from([0x1, 0x9, 0xA]), st.binary(max_size=70_000))
def test_a_client_frame_is_masked_and_unmasks_to_its_payload(opcode: int, payload: bytes) -> None:
    frame = raw_ws.client_frame(opcode, payload)
    assert frame[0] == 0x80 | opcode
    assert frame[1] & 0x80  # masked, as every client frame must be
    size, head = frame[1] & 0x7F, 2
    if size == 126:
        size, head = int.from_bytes(frame[2:4], "big"), 4
    elif size == 127:
        size, head = int.from_bytes(frame[2:10], "big"), 10
    key, body = frame[head : head + 4], frame[head + 4 :]
    assert size == len(body) == len(payload)
    assert bytes(b ^ key[i % 4] for i, b in enumerate(body)) == payload


def test_a_fragment_or_a_masked_frame_from_the_server_is_refused() -> None:
    with pytest.raises(ValueError, match="fragmented or masked"):
        raw_ws.FrameSplitter().feed(bytes([0x01, 3]) + b"abc")  # FIN clear
    with pytest.raises(ValueError, match="fragmented or masked"):
        raw_ws.FrameSplitter().feed(bytes([0x81, 0x83]) + b"keyabc")
