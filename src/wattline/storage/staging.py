"""A committed batch's hellos and readings as staged rows, and back (ADR 0033).

One row per device and batch: the device's events in arrival order, which is
the order sequencing must see them in when the rows are folded. Encoded as
msgpack lists rather than pickled, so that a row read back from the database
can only ever become a ``Reading`` or a ``Hello``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import msgspec

from wattline.model.messages import Hello, Reading

_READING = "r"
_HELLO = "h"

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(list[tuple[Any, ...]])


class StagedRow(NamedTuple):
    device_id: str
    # when the collector received the device's messages of that batch
    received_ms: int | None
    events: bytes


class StagedEventError(ValueError):
    """A staged row that is not a list of readings and hellos."""


def staged_rows(events: Sequence[Reading | Hello], seen_ms: dict[str, int]) -> list[StagedRow]:
    """The batch's events grouped by device (first arrival first), each group in arrival order."""
    by_device: dict[str, list[tuple[Any, ...]]] = {}
    for event in events:
        encoded: tuple[Any, ...]
        if isinstance(event, Reading):
            encoded = (_READING, event.ts_ms, event.metrics, event.seq)
        else:
            encoded = (_HELLO, event.device_type, event.firmware_version, event.capabilities)
        by_device.setdefault(event.device_id, []).append(encoded)
    return [
        StagedRow(device_id, seen_ms.get(device_id), _encoder.encode(encoded))
        for device_id, encoded in by_device.items()
    ]


def staged_events(device_id: str, events: bytes) -> list[Reading | Hello]:
    """A staged row's events; ``StagedEventError`` unless ``staged_rows`` wrote the bytes."""
    try:
        items = _decoder.decode(events)
        return [_event(device_id, item) for item in items]
    except (msgspec.DecodeError, TypeError, ValueError, IndexError) as exc:
        raise StagedEventError(f"staged row of {device_id!r} cannot be read: {exc}") from exc


def _event(device_id: str, item: tuple[Any, ...]) -> Reading | Hello:
    kind = item[0]
    if kind == _READING:
        _, ts_ms, metrics, seq = item
        return msgspec.convert(
            {"device_id": device_id, "ts_ms": ts_ms, "metrics": metrics, "seq": seq}, Reading
        )
    if kind == _HELLO:
        _, device_type, firmware_version, capabilities = item
        return msgspec.convert(
            {
                "device_id": device_id,
                "device_type": device_type,
                "firmware_version": firmware_version,
                "capabilities": capabilities,
            },
            Hello,
        )
    raise StagedEventError(f"unknown staged event kind {kind!r}")
