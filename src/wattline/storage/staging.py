"""A committed batch's hellos and readings as staged rows, and back (ADR 0033).

One row per device and batch: the device's events in arrival order, which is
the order sequencing must see them in when the rows are folded. Encoded as
msgpack lists rather than pickled, so that a row read back from the database
can only ever become a ``Reading`` or a ``Hello``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import msgspec
from msgspec import Struct

from wattline.model.messages import Hello, Reading


class _StagedReading(Struct, array_like=True, tag="r", frozen=True):
    ts_ms: int
    metrics: dict[str, float]
    seq: int | None


class _StagedHello(Struct, array_like=True, tag="h", frozen=True):
    device_type: str | None
    firmware_version: str | None
    capabilities: tuple[str, ...]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(list[_StagedReading | _StagedHello])


class StagedRow(NamedTuple):
    device_id: str
    # when the collector received the device's messages of that batch
    received_ms: int | None
    # when the batch was staged: a fold can wait until rows are old enough
    staged_ms: int
    events: bytes


class StagedEventError(ValueError):
    """A staged row that is not a list of readings and hellos."""


def staged_rows(
    events: Sequence[Reading | Hello], seen_ms: dict[str, int], staged_ms: int
) -> list[StagedRow]:
    """The batch's events grouped by device (first arrival first), each group in arrival order."""
    by_device: dict[str, list[_StagedReading | _StagedHello]] = {}
    for event in events:
        staged: _StagedReading | _StagedHello
        if isinstance(event, Reading):
            staged = _StagedReading(event.ts_ms, event.metrics, event.seq)
        else:
            staged = _StagedHello(event.device_type, event.firmware_version, event.capabilities)
        by_device.setdefault(event.device_id, []).append(staged)
    return [
        StagedRow(device_id, seen_ms.get(device_id), staged_ms, _encoder.encode(own))
        for device_id, own in by_device.items()
    ]


def staged_events(device_id: str, events: bytes) -> list[Reading | Hello]:
    """A staged row's events; ``StagedEventError`` unless ``staged_rows`` wrote the bytes."""
    try:
        items = _decoder.decode(events)
    except msgspec.DecodeError as exc:
        raise StagedEventError(f"staged row of {device_id!r} cannot be read: {exc}") from exc
    return [
        Reading(device_id, item.ts_ms, item.metrics, item.seq)
        if isinstance(item, _StagedReading)
        else Hello(device_id, item.device_type, item.firmware_version, item.capabilities)
        for item in items
    ]
