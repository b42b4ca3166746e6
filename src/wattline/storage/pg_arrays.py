"""Columns of a bulk insert as PostgreSQL binary arrays, packed by NumPy.

The sample insert sends each column as one array parameter (``bulk._insert_unnest``).
psycopg dumps a list into the binary array format in Python, a ``struct.pack``
per element: for a batch of 2,000 readings of five metrics that was 15 of the
30 ms its insert took, inside the transaction, while the batch's row locks are
held. Here a column of 64-bit integers or floats becomes the format's bytes in
a few NumPy calls, a column of strings in one join over each distinct string's
packed bytes (a batch names few devices and metrics). Anything else, a NULL
included, is left to psycopg: the caller gets ``None`` and sends the list.

Registered with psycopg when this module is imported (``open_postgres_store``
imports it before its engine connects), as dumpers of three wrapper types that
carry the bytes and name the array type, so the server reads them as they are.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import Format
from sqlalchemy import BigInteger, Float, String
from sqlalchemy.types import TypeEngine

# ndim, has-nulls flag, element type oid, length, lower bound
_HEADER = struct.Struct(">iiiii")
_LENGTH = struct.Struct(">i")
_INT8, _FLOAT8, _VARCHAR = 20, 701, 1043


class PackedArray:
    """An array parameter already in PostgreSQL's binary format."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class Int8Array(PackedArray):
    __slots__ = ()


class Float8Array(PackedArray):
    __slots__ = ()


class VarcharArray(PackedArray):
    __slots__ = ()


def _dumper(array_oid: int) -> type[Dumper]:
    class PackedDumper(Dumper):
        format = Format.BINARY
        oid = array_oid

        def dump(self, obj: Any) -> bytes:
            data: bytes = obj.data
            return data

    return PackedDumper


for _wrapper, _array_oid in ((Int8Array, 1016), (Float8Array, 1022), (VarcharArray, 1015)):
    psycopg.adapters.register_dumper(_wrapper, _dumper(_array_oid))


def packed(
    values: Sequence[Any], column_type: TypeEngine[Any], encoding: str
) -> PackedArray | None:
    """``values`` as a binary array of the column's type; None when they are not all
    of it (a NULL, an integer out of range, a type not packed here). ``encoding``:
    the session's (psycopg's ``info.encoding``), which the server reads strings in."""
    try:
        if isinstance(column_type, BigInteger):
            return Int8Array(_numbers(values, _INT8, ">i8"))
        if isinstance(column_type, Float):
            return Float8Array(_numbers(values, _FLOAT8, ">f8"))
        if isinstance(column_type, String):
            return VarcharArray(_strings(values, encoding))
    except (TypeError, ValueError, OverflowError, AttributeError):
        return None
    return None


def _numbers(values: Sequence[Any], element_oid: int, dtype: str) -> bytes:
    # NumPy refuses None for an integer and an int64's overflow, but would make None
    # a NaN float: NULLs are the caller's to send (the columns packed hold numbers).
    if None in values:
        raise TypeError("a NULL")
    cells = np.empty(len(values), dtype=[("length", ">i4"), ("value", dtype)])
    cells["length"] = 8
    cells["value"] = values
    return _HEADER.pack(1, 0, element_oid, len(values), 1) + cells.tobytes()


def _strings(values: Sequence[Any], encoding: str) -> bytes:
    cells: dict[str, bytes] = {}
    parts = []
    for value in values:
        cell = cells.get(value)
        if cell is None:
            encoded = value.encode(encoding)
            cell = cells[value] = _LENGTH.pack(len(encoded)) + encoded
        parts.append(cell)
    return _HEADER.pack(1, 0, _VARCHAR, len(values), 1) + b"".join(parts)
