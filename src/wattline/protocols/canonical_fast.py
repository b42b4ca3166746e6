"""The canonical telemetry message as nearly every device sends it, decoded in one pass.

``{"seq": n, "ts": epoch-ms, "metrics": {name: number, ...}}`` and nothing else:
msgspec parses the JSON and checks its shape and number ranges in C, instead of
orjson's dicts walked in Python (``canonical_messages.parse_telemetry``): a
message of five metrics through ``plan.decode`` in 4.9 instead of 8.1 µs (ADR 0029).

Any other message, valid or not (a batch upload, an RFC 3339 time, another
field, a value out of range, CBOR, a name breaking the rule, a time in the
future), is declined with None and goes the general way, which accepts it or
says precisely what is wrong. So this path never decides a rejection, and what
it accepts, the general path accepts as the same readings
(tests/unit/protocols/test_canonical_fast.py checks both on generated payloads).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from wattline.model.messages import Reading
from wattline.protocols.timestamps import EARLIEST_MS, LATEST_MS
from wattline.protocols.validation import MAX_ABS_VALUE, MAX_SEQ, Limits, are_metric_names

Value = Annotated[float, msgspec.Meta(ge=-MAX_ABS_VALUE, le=MAX_ABS_VALUE)]
Seq = Annotated[int, msgspec.Meta(ge=0, le=MAX_SEQ)]


class _Telemetry(msgspec.Struct, forbid_unknown_fields=True):
    # JSON integers only: a float or a string time goes the general way
    ts: int
    metrics: dict[str, Value]
    seq: Seq | None = None


_DECODER = msgspec.json.Decoder(_Telemetry)


def fast_telemetry(
    device_id: str, raw: bytes, received_ms: int, limits: Limits
) -> tuple[Reading, ...] | None:
    """The message's one reading, or None when it is not the common case."""
    try:
        message = _DECODER.decode(raw)
    except msgspec.DecodeError:  # a ValidationError too
        return None
    metrics, ts_ms = message.metrics, message.ts
    if not EARLIEST_MS <= ts_ms < LATEST_MS or ts_ms > received_ms + limits.max_future_skew_ms:
        return None
    if not metrics or len(metrics) > limits.max_metrics_per_reading:
        return None
    if not are_metric_names(metrics):
        return None
    return (Reading(device_id=device_id, ts_ms=ts_ms, metrics=metrics, seq=message.seq),)
