"""The block codec: columns of one series' closed day packed into one compressed value.

Pure; ``compaction.py`` moves rows into blocks and ``block_reads.py`` reads them.
A block holds equal-length columns, each int64 or float64. Integers are stored
as differences from their predecessor (timestamps a minute apart become a run
of 60000s), floats as the XOR of their bits with their predecessor's (a steady
reading becomes zeros, and every bit pattern, NaN and -0.0 included, survives).
The 8 bytes of each value are then transposed so equal high bytes sit together,
and the whole is compressed with zstd: a day read decodes several blocks, and
zstd gives them back ten times faster than zlib did, in slightly fewer bytes
(ADR 0030, docs/benchmarks.md).

Layout: b"WB2" | column kinds (one ASCII byte each, "i" or "f") | b"|" | a zstd
frame of the count (uint32, little-endian) followed by each column's transposed
bytes. Blocks written before (b"WB1", the same with zlib) are read as they are.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import zstandard

_MAGIC = b"WB2"
_MAGIC_ZLIB = b"WB1"
_COUNT = struct.Struct("<I")
# zstd's default level: level 9 or 19 saved under 2 % more here, at several times the time.
_LEVEL = 3
# A block holds one series' day; a frame claiming more than this is not ours.
_MAX_RAW_BYTES = 1 << 30
Column = npt.NDArray[np.int64] | npt.NDArray[np.float64]


class BlockError(ValueError):
    """A block that cannot be built (unsorted or repeated timestamps) or read back."""


def encode(columns: Sequence[Column]) -> bytes:
    """Equal-length int64/float64 columns as one block; the first column must be strictly
    increasing (the timestamps or bucket starts, each at most once per series)."""
    if not columns:
        raise BlockError("a block needs at least its time column")
    n = len(columns[0])
    if any(len(c) != n for c in columns):
        raise BlockError("columns of different lengths")
    times = np.asarray(columns[0])
    if times.dtype != np.int64:
        raise BlockError("the first column holds int64 times")
    if n > 1 and not bool(np.all(times[1:] > times[:-1])):
        raise BlockError("times must be strictly increasing: one value per timestamp")
    kinds = bytearray()
    parts = [_COUNT.pack(n)]
    for column in columns:
        array = np.asarray(column)
        if array.dtype == np.int64:
            kinds += b"i"
            bits = array.view(np.uint64)
            coded = np.diff(bits, prepend=np.uint64(0))  # wraps modulo 2**64: exact
        elif array.dtype == np.float64:
            kinds += b"f"
            bits = array.view(np.uint64)
            coded = bits ^ np.concatenate((np.zeros(1, np.uint64), bits[:-1]))
        else:
            raise BlockError(f"unsupported column type {array.dtype}")
        parts.append(_transpose(coded))
    packed = zstandard.ZstdCompressor(level=_LEVEL).compress(b"".join(parts))
    return _MAGIC + bytes(kinds) + b"|" + packed


def decode(block: bytes) -> list[Column]:
    """The columns ``encode`` was given, bit for bit."""
    if not block.startswith((_MAGIC, _MAGIC_ZLIB)) or b"|" not in block:
        raise BlockError("not a block")
    bar = block.index(b"|")
    kinds = block[len(_MAGIC) : bar]
    raw = _unpacked(block[bar + 1 :], zstd=block.startswith(_MAGIC))
    if len(raw) < _COUNT.size:
        raise BlockError("block too short")
    (n,) = _COUNT.unpack_from(raw)
    if len(raw) != _COUNT.size + 8 * n * len(kinds):
        raise BlockError("block length does not match its count")
    columns: list[Column] = []
    offset = _COUNT.size
    for kind in kinds:
        chunk = np.frombuffer(raw, np.uint8, 8 * n, offset)
        offset += 8 * n
        coded = np.ascontiguousarray(chunk.reshape(8, n).T).view(np.uint64).reshape(n)
        if kind == ord("i"):
            columns.append(np.cumsum(coded, dtype=np.uint64).view(np.int64))
        elif kind == ord("f"):
            columns.append(np.bitwise_xor.accumulate(coded).view(np.float64))
        else:
            raise BlockError(f"unknown column kind {chr(kind)!r}")
    return columns


def _transpose(values: npt.NDArray[np.uint64]) -> bytes:
    # Byte k of every value together: deltas and XORs have mostly-zero high bytes.
    return np.ascontiguousarray(values.view(np.uint8).reshape(-1, 8).T).tobytes()


def _unpacked(packed: bytes, *, zstd: bool) -> bytes:
    try:
        if zstd:
            # A decompressor per call: they are not to be shared between threads,
            # and making one costs 2 us against 15-20 us for a block's frame.
            return zstandard.ZstdDecompressor().decompress(packed, max_output_size=_MAX_RAW_BYTES)
        return zlib.decompress(packed)
    except (zstandard.ZstdError, zlib.error) as exc:
        raise BlockError(f"corrupt block: {exc}") from exc
