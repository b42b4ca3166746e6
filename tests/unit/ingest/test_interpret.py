"""The pure front of the pipeline: every message is accepted or rejected with a reason."""

from __future__ import annotations

import json
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wattline.ingest.interpret import InterpretConfig, interpret
from wattline.model.messages import (
    ConnectionState,
    InboundMessage,
    Interpreted,
    Rejection,
    RejectReason,
)

NOW_MS = 1_764_057_600_000
CONFIG = InterpretConfig()


def message(topic: str, body: Any, *, raw: bytes | None = None) -> InboundMessage:
    payload = raw if raw is not None else json.dumps(body).encode()
    return InboundMessage(topic=topic, payload=payload, received_ms=NOW_MS)


def accepted(msg: InboundMessage) -> Interpreted:
    outcome = interpret(msg, CONFIG)
    assert isinstance(outcome, Interpreted), outcome
    return outcome


def rejected(msg: InboundMessage) -> Rejection:
    outcome = interpret(msg, CONFIG)
    assert isinstance(outcome, Rejection), outcome
    return outcome


def test_single_reading() -> None:
    out = accepted(
        message("iot/dc-1/telemetry", {"seq": 7, "ts": NOW_MS, "metrics": {"power_w": 5}})
    )
    assert out.device_id == "dc-1"
    [reading] = out.readings
    assert (reading.seq, reading.ts_ms, reading.metrics) == (7, NOW_MS, {"power_w": 5.0})


def test_batch_of_readings_in_cbor() -> None:
    body = [{"seq": i, "ts": NOW_MS - 1000 * i, "metrics": {"v": i}} for i in range(3)]
    out = accepted(message("iot/dev_2/telemetry", None, raw=cbor2.dumps(body)))
    assert [r.seq for r in out.readings] == [0, 1, 2]


def test_rfc3339_timestamp_and_missing_seq() -> None:
    out = accepted(
        message("iot/a/telemetry", {"ts": "2025-11-25T08:00:00Z", "metrics": {"t_c": 21.5}})
    )
    assert out.readings[0].ts_ms == NOW_MS
    assert out.readings[0].seq is None


def test_hello_and_status() -> None:
    hello = accepted(
        message("iot/a/hello", {"type": "dc_meter", "firmware": "2.1", "capabilities": ["v"]})
    ).hello
    assert hello is not None
    assert (hello.device_type, hello.firmware_version, hello.capabilities) == (
        "dc_meter",
        "2.1",
        ("v",),
    )
    status = accepted(message("iot/a/status", None, raw=b"offline")).status
    assert status is not None
    assert status.state is ConnectionState.OFFLINE


GOOD = {"seq": 1, "ts": NOW_MS, "metrics": {"power_w": 1.0}}


@pytest.mark.parametrize(
    ("topic", "body", "reason"),
    [
        ("iot/a/unknown", GOOD, RejectReason.UNKNOWN_TOPIC),
        ("other/a/telemetry", GOOD, RejectReason.UNKNOWN_TOPIC),
        ("iot/a/b/telemetry", GOOD, RejectReason.UNKNOWN_TOPIC),
        ("iot/a/telemetry/extra", GOOD, RejectReason.UNKNOWN_TOPIC),
        ("iot/bad id/telemetry", GOOD, RejectReason.BAD_DEVICE_ID),
        ("iot/" + "x" * 65 + "/telemetry", GOOD, RejectReason.BAD_DEVICE_ID),
        ("iot/a/telemetry", [], RejectReason.BAD_SHAPE),
        ("iot/a/telemetry", 42, RejectReason.BAD_SHAPE),
        ("iot/a/telemetry", {"ts": NOW_MS, "metrics": {}}, RejectReason.BAD_SHAPE),
        ("iot/a/telemetry", {"ts": NOW_MS, "metrics": [1, 2]}, RejectReason.BAD_SHAPE),
        ("iot/a/telemetry", {"metrics": {"p": 1}}, RejectReason.BAD_TIMESTAMP),
        ("iot/a/telemetry", {"ts": NOW_MS, "metrics": {"p": "1"}}, RejectReason.BAD_VALUE),
        ("iot/a/telemetry", {"ts": NOW_MS, "metrics": {"p": True}}, RejectReason.BAD_VALUE),
        ("iot/a/telemetry", {"ts": NOW_MS, "metrics": {"p": 1e300}}, RejectReason.BAD_VALUE),
        ("iot/a/telemetry", {"ts": NOW_MS, "metrics": {"p": 10**40}}, RejectReason.BAD_VALUE),
        ("iot/a/telemetry", {"ts": NOW_MS, "metrics": {"p": {"x": 1}}}, RejectReason.BAD_VALUE),
        ("iot/a/telemetry", {"ts": NOW_MS, "metrics": {"1p": 1}}, RejectReason.BAD_METRIC_NAME),
        ("iot/a/telemetry", {"ts": NOW_MS, "metrics": {"a b": 1}}, RejectReason.BAD_METRIC_NAME),
        (
            "iot/a/telemetry",
            {"ts": NOW_MS + 3_600_000, "metrics": {"p": 1}},
            RejectReason.FUTURE_TIMESTAMP,
        ),
        ("iot/a/telemetry", {"seq": -1, "ts": NOW_MS, "metrics": {"p": 1}}, RejectReason.BAD_SEQ),
        ("iot/a/telemetry", {"seq": 1.5, "ts": NOW_MS, "metrics": {"p": 1}}, RejectReason.BAD_SEQ),
        ("iot/a/telemetry", [GOOD, GOOD], RejectReason.BAD_SHAPE),
        ("iot/a/hello", ["not", "an", "object"], RejectReason.BAD_SHAPE),
        ("iot/a/status", {"state": "sleepy"}, RejectReason.BAD_SHAPE),
    ],
)
def test_rejections_carry_a_reason(topic: str, body: Any, reason: RejectReason) -> None:
    outcome = rejected(message(topic, body))
    assert outcome.reason is reason
    assert outcome.detail


def test_nan_in_cbor_is_rejected() -> None:
    raw = cbor2.dumps({"ts": NOW_MS, "metrics": {"p": float("nan")}})
    assert rejected(message("iot/a/telemetry", None, raw=raw)).reason is RejectReason.BAD_VALUE


def test_oversized_payload_is_rejected_before_decoding() -> None:
    outcome = rejected(message("iot/a/telemetry", None, raw=b"{" + b" " * (64 * 1024)))
    assert outcome.reason is RejectReason.TOO_LARGE


def test_deep_nesting_is_rejected() -> None:
    raw = cbor2.dumps({"ts": NOW_MS, "metrics": {"p": 1}}) + b""
    deep = b"\x81" * 20_000 + raw  # CBOR arrays nested 20,000 deep
    assert rejected(message("iot/a/telemetry", None, raw=deep)).reason in {
        RejectReason.UNDECODABLE,
        RejectReason.BAD_SHAPE,
    }


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300)
@given(topic=st.text(max_size=40), payload=st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(topic: str, payload: bytes) -> None:
    outcome = interpret(InboundMessage(topic, payload, NOW_MS), CONFIG)
    assert isinstance(outcome, Interpreted | Rejection)


@settings(max_examples=300)
@given(body=json_values, as_cbor=st.booleans())
def test_arbitrary_documents_never_crash(body: Any, as_cbor: bool) -> None:
    raw = cbor2.dumps(body) if as_cbor else json.dumps(body).encode()
    outcome = interpret(InboundMessage("iot/dev/telemetry", raw, NOW_MS), CONFIG)
    if isinstance(outcome, Interpreted):
        for reading in outcome.readings:
            assert reading.metrics
            assert all(isinstance(v, float) for v in reading.metrics.values())
