"""How an event is written to a client: Wattline's own shape, and the seeds' shapes.

A renderer turns one event (and the metrics the client asked for; empty: all)
into the text messages to send. ``wattline`` is the shape of ``/api/v1/ws``
and ``/api/v1/stream``; ``smart_solar`` is the smart-solar platform's
per-device socket (one ``{"device_id", "data_type", "value", "timestamp"}``
per metric, its telemetry item); ``hyper_volt`` is the HyperVolt
``/ws/sensors`` feed (one ``{"sensor_type", "location", "value", "timestamp"}``
per sensor reading).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from wattline.live.events import KIND_TEXT, EventKind, LiveEvent
from wattline.model.times import iso_ms
from wattline.protocols.adapters import hypervolt, smartsolar

Render = Callable[[LiveEvent, frozenset[str]], list[str]]

_READING, _STATUS = EventKind.READING, EventKind.STATUS
_SOLAR_DATA_TYPES = {metric: data_type for data_type, metric in smartsolar.METRICS.items()}
_SENSOR_TYPES = {metric: sensor for sensor, metric in hypervolt.METRICS.items()}


def _text(value: object) -> str:
    return orjson.dumps(value).decode()


def _chosen(event: LiveEvent, metrics: frozenset[str]) -> Mapping[str, float]:
    values: Mapping[str, float] = event.payload.get("metrics", {})
    if not metrics:  # empty: all of them
        return values
    return {name: value for name, value in values.items() if name in metrics}


def wattline(event: LiveEvent, metrics: frozenset[str]) -> list[str]:
    kind = event.kind
    message: dict[str, Any] = {
        "type": KIND_TEXT[kind],
        "device_id": event.device_id,
        "ts": iso_ms(event.ts_ms),
        "ts_ms": event.ts_ms,
    }
    if kind is _READING:
        message["seq"] = event.payload.get("seq")
        message["metrics"] = _chosen(event, metrics)
    elif kind is _STATUS:
        message.update(event.payload)
    else:
        message["alert"] = event.payload
    return [_text(message)]


def smart_solar(event: LiveEvent, metrics: frozenset[str]) -> list[str]:
    timestamp = iso_ms(event.ts_ms)
    if event.kind is EventKind.STATUS and "state" in event.payload:
        return [_text({"device_id": event.device_id, "status": event.payload["state"]})]
    if event.kind is not EventKind.READING:
        return []
    return [
        _text(
            {
                "device_id": event.device_id,
                "data_type": _SOLAR_DATA_TYPES.get(metric, metric),
                "value": value,
                "timestamp": timestamp,
            }
        )
        for metric, value in _chosen(event, metrics).items()
    ]


def hyper_volt(event: LiveEvent, metrics: frozenset[str]) -> list[str]:
    if event.kind is not EventKind.READING:
        return []
    timestamp = iso_ms(event.ts_ms)
    return [
        _text(
            {
                "sensor_type": _SENSOR_TYPES[metric],
                "location": event.device_id,
                "value": value,
                "timestamp": timestamp,
            }
        )
        for metric, value in _chosen(event, metrics).items()
        if metric in _SENSOR_TYPES
    ]


# The metrics a HyperVolt client is sent: the home sensors' own.
HYPER_VOLT_METRICS = frozenset(_SENSOR_TYPES)

# Messages per frame at most when a client asked for arrays (``?batch=true``): a
# frame stays a few hundred kilobytes even after a catch-up.
MAX_FRAME_MESSAGES = 500


def frames(texts: Sequence[str], *, batched: bool) -> list[str]:
    """The WebSocket frames that carry ``texts``: one message each, or JSON arrays of
    up to ``MAX_FRAME_MESSAGES`` messages (what was waiting goes out as one frame, so
    a busy stream costs a frame per batch instead of one per message)."""
    if not batched:
        return list(texts)
    return [
        "[" + ",".join(texts[start : start + MAX_FRAME_MESSAGES]) + "]"
        for start in range(0, len(texts), MAX_FRAME_MESSAGES)
    ]
