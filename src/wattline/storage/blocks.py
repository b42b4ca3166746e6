"""The block codec: columns of one series' closed day packed into one compressed value.

Pure; ``compaction.py`` moves rows into blocks and ``block_reads.py`` reads them.
A block holds equal-length columns, each int64 or float64. Integers are stored
as differences from their predecessor (timestamps a minute apart become a run
of 60000s), floats as the XOR of their bits with their predecessor's (a steady
reading becomes zeros, and every bit pattern, NaN and -0.0 included, survives).
The 8 bytes of each value are then transposed so equal high bytes sit together,
and the whole is compressed with zlib (the standard library: no new dependency;
on this data it reached within a few percent of zstd, see docs/benchmarks.md).

Layout: b"WB1" | column kinds (one ASCII byte each, "i" or "f") | b"|" | zlib of
the count (uint32, little-endian) followed by each column's transposed bytes.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

_MAGIC = b"WB1"
_COUNT = struct.Struct("<I")
# zlib level 6 is its default: level 9 saved under 1 % more here at twice the time.
_LEVEL = 6
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
    return _MAGIC + bytes(kinds) + b"|" + zlib.compress(b"".join(parts), _LEVEL)


def decode(block: bytes) -> list[Column]:
    """The columns ``encode`` was given, bit for bit."""
    if not block.startswith(_MAGIC) or b"|" not in block:
        raise BlockError("not a block")
    bar = block.index(b"|")
    kinds = block[len(_MAGIC) : bar]
    try:
        raw = zlib.decompress(block[bar + 1 :])
    except zlib.error as exc:
        raise BlockError(f"corrupt block: {exc}") from exc
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
