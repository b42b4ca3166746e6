"""Canonical command acknowledgements and OTA progress: {id}/command/ack and {id}/ota/status."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wattline.ingest.interpret import InterpretConfig, interpret
from wattline.model.messages import (
    DOWNLINK,
    CommandAck,
    CommandResult,
    InboundMessage,
    Interpreted,
    OtaState,
    OtaStatus,
    Rejection,
    RejectReason,
)
from wattline.protocols.adapters import ADAPTERS, Payload
from wattline.protocols.adapters.canonical import CanonicalAdapter
from wattline.protocols.validation import Limits

NOW_MS = 1_764_057_600_000
CONFIG = InterpretConfig()


def outcome(topic: str, body: Any) -> Interpreted | Rejection:
    return interpret(InboundMessage(topic, json.dumps(body).encode(), NOW_MS), CONFIG)


def test_canonical_topics_include_the_reports() -> None:
    assert ADAPTERS["canonical"].topic_patterns() == [
        "iot/+/telemetry",
        "iot/+/hello",
        "iot/+/status",
        "iot/+/command/ack",
        "iot/+/ota/status",
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"command_id": "c-17", "status": "done", "detail": "relay off", "ts": NOW_MS - 5},
            CommandAck("meter-1", "c-17", CommandResult.DONE, "relay off", NOW_MS - 5),
        ),
        (
            {"command_id": "c-18", "status": "rejected"},
            CommandAck("meter-1", "c-18", CommandResult.REJECTED, None, NOW_MS),
        ),
        (  # a device clock ahead of ours is clamped, not rejected
            {"command_id": "c-19", "status": "accepted", "ts": NOW_MS + 60_000},
            CommandAck("meter-1", "c-19", CommandResult.ACCEPTED, None, NOW_MS),
        ),
    ],
)
def test_command_ack(body: dict[str, Any], expected: CommandAck) -> None:
    out = outcome("iot/meter-1/command/ack", body)
    assert isinstance(out, Interpreted), out
    assert (out.kind, out.command_ack, out.readings) == ("command_ack", expected, ())


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"job_id": "ota-7", "version": "3.2.1", "state": "downloading", "progress_pct": 42.5},
            OtaStatus("inv-1", "ota-7", "3.2.1", OtaState.DOWNLOADING, 42.5, None, NOW_MS),
        ),
        (
            {"version": "3.2.1", "state": "failed", "detail": "checksum", "ts": NOW_MS - 1},
            OtaStatus("inv-1", None, "3.2.1", OtaState.FAILED, None, "checksum", NOW_MS - 1),
        ),
    ],
)
def test_ota_status(body: dict[str, Any], expected: OtaStatus) -> None:
    out = outcome("iot/inv-1/ota/status", body)
    assert isinstance(out, Interpreted), out
    assert (out.kind, out.ota_status) == ("ota_status", expected)


@pytest.mark.parametrize(
    ("topic", "body", "reason"),
    [
        ("iot/a/command/nack", {"command_id": "c", "status": "done"}, RejectReason.UNKNOWN_TOPIC),
        ("iot/a/ota/progress", {"job_id": "j", "state": "done"}, RejectReason.UNKNOWN_TOPIC),
        ("iot/a b/command/ack", {"command_id": "c", "status": "done"}, RejectReason.BAD_DEVICE_ID),
        ("iot/a/command/ack", ["c", "done"], RejectReason.BAD_SHAPE),
        ("iot/a/command/ack", {"status": "done"}, RejectReason.BAD_SHAPE),
        ("iot/a/command/ack", {"command_id": "", "status": "done"}, RejectReason.BAD_SHAPE),
        ("iot/a/command/ack", {"command_id": 5, "status": "done"}, RejectReason.BAD_SHAPE),
        ("iot/a/command/ack", {"command_id": "c", "status": "ok"}, RejectReason.BAD_SHAPE),
        ("iot/a/command/ack", {"command_id": "c", "status": 1}, RejectReason.BAD_SHAPE),
        (
            "iot/a/command/ack",
            {"command_id": "c", "status": "done", "detail": "x" * 257},
            RejectReason.BAD_SHAPE,
        ),
        (
            "iot/a/command/ack",
            {"command_id": "c", "status": "done", "ts": "now"},
            RejectReason.BAD_TIMESTAMP,
        ),
        ("iot/a/ota/status", "downloading", RejectReason.BAD_SHAPE),
        ("iot/a/ota/status", {"state": "done"}, RejectReason.BAD_SHAPE),
        ("iot/a/ota/status", {"job_id": "j", "state": "sleeping"}, RejectReason.BAD_SHAPE),
        (
            "iot/a/ota/status",
            {"job_id": "j", "state": "installing", "progress_pct": 101},
            RejectReason.BAD_VALUE,
        ),
        (
            "iot/a/ota/status",
            {"job_id": "j", "state": "installing", "progress_pct": "50%"},
            RejectReason.BAD_VALUE,
        ),
    ],
)
def test_rejections(topic: str, body: Any, reason: RejectReason) -> None:
    out = outcome(topic, body)
    assert isinstance(out, Rejection), out
    assert out.reason is reason
    assert out.detail


def test_the_platforms_own_command_topic_is_a_downlink_not_a_device_message() -> None:
    out = CanonicalAdapter().parse(
        "iot/a/command", Payload(b'{"anything": 1}'), 1_764_057_600_000, Limits()
    )
    assert out is not None
    assert (out.device_id, out.kind, out.readings, out.status) == ("a", DOWNLINK, (), None)


def test_the_canonical_prefix_is_subscribed_whole_so_unknown_topics_are_heard() -> None:
    assert CanonicalAdapter().subscriptions() == ["iot/#"]
    # without a prefix a catch-all would be the whole broker
    assert "#" not in CanonicalAdapter(prefix="").subscriptions()
