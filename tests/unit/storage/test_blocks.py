"""The block codec gives back every column bit for bit, and refuses what it cannot hold."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from wattline.storage import blocks

int64s = st.integers(-(2**63), 2**63 - 1)
# Every float64 bit pattern that matters: NaN, -0.0, infinities, subnormals, extremes.
floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 1.7976931348623157e308, -1.7976931348623157e308]),
)


def _bits(column: blocks.Column) -> list[int]:
    return np.asarray(column).view(np.uint64).tolist()


@given(
    times=st.lists(int64s, unique=True, max_size=300).map(sorted),
    data=st.data(),
)
def test_columns_come_back_bit_for_bit(times: list[int], data: st.DataObject) -> None:
    n = len(times)
    values = data.draw(st.lists(floats, min_size=n, max_size=n))
    counts = data.draw(st.lists(int64s, min_size=n, max_size=n))
    columns: list[blocks.Column] = [
        np.array(times, np.int64),
        np.array(values, np.float64),
        np.array(counts, np.int64),
    ]
    decoded = blocks.decode(blocks.encode(columns))
    assert [c.dtype for c in decoded] == [np.int64, np.float64, np.int64]
    assert [_bits(c) for c in decoded] == [_bits(c) for c in columns]


def test_an_empty_block_round_trips() -> None:
    [times, values] = blocks.decode(
        blocks.encode([np.array([], np.int64), np.array([], np.float64)])
    )
    assert (len(times), len(values)) == (0, 0)


@pytest.mark.parametrize("times", [[5, 5], [1, 3, 2], [2, 1]])
def test_equal_or_unsorted_times_are_refused(times: list[int]) -> None:
    with pytest.raises(blocks.BlockError, match="strictly increasing"):
        blocks.encode([np.array(times, np.int64), np.zeros(len(times))])


def test_refused_shapes_and_types() -> None:
    with pytest.raises(blocks.BlockError):
        blocks.encode([])
    with pytest.raises(blocks.BlockError, match="lengths"):
        blocks.encode([np.arange(3, dtype=np.int64), np.zeros(2)])
    with pytest.raises(blocks.BlockError, match="int64 times"):
        blocks.encode([np.zeros(2)])
    with pytest.raises(blocks.BlockError, match="unsupported"):
        blocks.encode([np.arange(2, dtype=np.int64), np.zeros(2, np.float32)])


@given(garbage=st.binary(max_size=64), magic=st.sampled_from([b"WB1", b"WB2"]))
def test_anything_else_is_not_a_block(garbage: bytes, magic: bytes) -> None:
    with pytest.raises(blocks.BlockError):
        blocks.decode(magic + b"f|" + garbage)


def _as_zlib_block(block: bytes) -> bytes:
    """The same columns as a block written before zstd: b"WB1", then zlib."""
    bar = block.index(b"|")
    raw = zstandard.ZstdDecompressor().decompress(block[bar + 1 :])
    return b"WB1" + block[3:bar] + b"|" + zlib.compress(raw, 6)


@given(
    times=st.lists(int64s, unique=True, max_size=100).map(sorted),
    data=st.data(),
)
def test_blocks_written_with_zlib_still_read(times: list[int], data: st.DataObject) -> None:
    """Blocks compacted before zstd (ADR 0030) stay in the store until reopened."""
    values = data.draw(st.lists(floats, min_size=len(times), max_size=len(times)))
    columns: list[blocks.Column] = [np.array(times, np.int64), np.array(values, np.float64)]
    block = blocks.encode(columns)
    assert block.startswith(b"WB2")
    decoded = blocks.decode(_as_zlib_block(block))
    assert [_bits(c) for c in decoded] == [_bits(c) for c in columns]


def test_a_minute_series_packs_small() -> None:
    # A steady 1-minute day: the timestamps' deltas repeat, the values barely change.
    times = np.arange(1440, dtype=np.int64) * 60_000 + 1_764_000_000_000
    values = np.round(230 + np.sin(np.arange(1440) / 100), 1)
    size = len(blocks.encode([times, values]))
    assert size < 1440 * 2  # under 2 bytes a sample, against 16 unpacked
