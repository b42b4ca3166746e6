"""Opaque page cursors: where the next page of a list starts. Pure; ValueError says why.

A cursor is the last key of the page just served, as URL-safe base64 of a
small JSON array ``[kind, key...]``. Clients must treat it as opaque; the
kind stops a cursor of one list (devices) being replayed against another
(quarantine), and each key is checked for type before it reaches SQL.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Literal

# Pages: a default small enough to answer in milliseconds, a max that bounds a page's JSON.
DEFAULT_PAGE = 100
MAX_PAGE = 1_000
# Real cursors are tens of bytes; this refuses absurd input before decoding it.
MAX_CURSOR_CHARS = 512

Kind = Literal[
    "devices",
    "quarantine",
    "gaps",
    "raw-asc",
    "raw-desc",
    "audit",
    "sensor-readings",
    "commands",
    "alerts",
    "anomalies",
    "decisions",
]


def encode(kind: Kind, *key: str | int) -> str:
    # UTF-8, not \u escapes: a 64-character key stays far under MAX_CURSOR_CHARS.
    text = json.dumps([kind, *key], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(kind: Kind, cursor: str) -> list[object]:
    if len(cursor) > MAX_CURSOR_CHARS:
        raise ValueError(
            f"cursor is {len(cursor)} characters; a cursor is at most {MAX_CURSOR_CHARS}"
        )
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw.decode())
    except (binascii.Error, ValueError):
        raise ValueError(
            "cursor is not one this API issued: pass next_cursor from the previous page unchanged"
        ) from None
    if not isinstance(value, list) or not value or not isinstance(value[0], str):
        raise ValueError("cursor is not one this API issued: pass next_cursor unchanged")
    if value[0] != kind:
        raise ValueError(f"cursor belongs to a {value[0]!r} list, not to this {kind!r} list")
    return value[1:]


def _int(value: object, what: str) -> int:
    # bool is an int subclass; JSON true is no key. Bounds: a signed 64-bit column.
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
        raise ValueError(f"cursor holds no valid {what}")
    return value


def decode_str(kind: Kind, cursor: str) -> str:
    key = _decode(kind, cursor)
    if len(key) != 1 or not isinstance(key[0], str) or not key[0]:
        raise ValueError(f"cursor holds no valid key for the {kind!r} list")
    return key[0]


def decode_int(kind: Kind, cursor: str, what: str) -> int:
    key = _decode(kind, cursor)
    if len(key) != 1:
        raise ValueError(f"cursor holds no valid {what}")
    return _int(key[0], what)


def decode_pair(kind: Kind, cursor: str, what: str) -> tuple[int, int]:
    key = _decode(kind, cursor)
    if len(key) != 2:
        raise ValueError(f"cursor holds no valid {what}")
    return _int(key[0], what), _int(key[1], what)


def decode_reading(kind: Kind, cursor: str) -> tuple[int, str, str]:
    """A (timestamp, device, metric) key: where a list of single readings stopped."""
    key = _decode(kind, cursor)
    if len(key) != 3 or not all(isinstance(part, str) and part for part in key[1:]):
        raise ValueError("cursor holds no valid reading")
    return _int(key[0], "timestamp"), str(key[1]), str(key[2])


def decode_int_str(kind: Kind, cursor: str, what: str) -> tuple[int, str]:
    """A key of a time and an id (a command's created_ms and command_id)."""
    key = _decode(kind, cursor)
    if len(key) != 2 or not isinstance(key[1], str) or not key[1] or len(key[1]) > 64:
        raise ValueError(f"cursor holds no valid {what}")
    return _int(key[0], what), key[1]
