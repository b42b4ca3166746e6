"""Rules shared by every protocol: lenient device timestamps, relay states, hostile integers."""

from __future__ import annotations

import cbor2
import pytest

from wattline.ingest.interpret import InterpretConfig, interpret
from wattline.model.messages import InboundMessage, Rejection, RejectReason
from wattline.protocols import validation
from wattline.protocols.adapters import ADAPTERS, build_adapters
from wattline.protocols.errors import ProtocolError
from wattline.protocols.timestamps import arrival_second_ms, parse_device_timestamp_ms
from wattline.protocols.validation import parse_switch

NOW_MS = 1_764_057_600_000  # 2025-11-25T08:00:00Z
HUGE = 10**5000  # Python refuses to print an integer this long


def _id(value: object) -> str | None:
    return "huge-int" if value is HUGE else None


@pytest.mark.parametrize(
    ("value", "expected_ms"),
    [
        (NOW_MS, NOW_MS),
        (NOW_MS // 1000, NOW_MS),
        (1_764_057_600.25, NOW_MS + 250),
        ("2025-11-25T08:00:00Z", NOW_MS),
        ("2025-11-25T09:00:00+01:00", NOW_MS),
        ("2025-11-25T08:00:00", NOW_MS),  # no offset: read as UTC
        ("2025-11-25 08:00:00.5", NOW_MS + 500),
    ],
)
def test_device_timestamps(value: object, expected_ms: int) -> None:
    assert parse_device_timestamp_ms(value) == expected_ms


@pytest.mark.parametrize(
    "value",
    [5, 946_684_799, 4_102_444_800, "soon", None, True, float("nan"), HUGE, [NOW_MS]],
    ids=_id,
)
def test_implausible_device_timestamps(value: object) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_device_timestamp_ms(value)
    assert caught.value.reason is RejectReason.BAD_TIMESTAMP


def test_arrival_second() -> None:
    assert arrival_second_ms(NOW_MS + 999) == NOW_MS
    assert arrival_second_ms(NOW_MS) == NOW_MS


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, 1.0), (False, 0.0), (1, 1.0), (0, 0.0), ("ON", 1.0), ("off", 0.0), ("true", 1.0)],
)
def test_switch_states(value: object, expected: float) -> None:
    assert parse_switch("relay_state", value) == expected


@pytest.mark.parametrize("value", [2, -1, 0.5, "toggle", None, HUGE, [1]], ids=_id)
def test_bad_switch_states(value: object) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_switch("relay_state", value)
    assert caught.value.reason is RejectReason.BAD_VALUE


ALL = InterpretConfig(adapters=build_adapters(list(ADAPTERS)))


@pytest.mark.parametrize(
    ("topic", "body", "reason"),
    [
        ("iot/a/telemetry", {"ts": NOW_MS, "metrics": {"p": HUGE}}, RejectReason.BAD_VALUE),
        ("iot/a/telemetry", {"ts": NOW_MS, "metrics": {HUGE: 1}}, RejectReason.BAD_METRIC_NAME),
        ("iot/a/telemetry", {"seq": HUGE, "ts": NOW_MS, "metrics": {"p": 1}}, RejectReason.BAD_SEQ),
        ("iot/a/telemetry", {"ts": HUGE, "metrics": {"p": 1}}, RejectReason.BAD_TIMESTAMP),
        ("iot/a/status", {"state": HUGE}, RejectReason.BAD_SHAPE),
        ("iot/a/ota/status", {"job_id": "j", "state": HUGE}, RejectReason.BAD_SHAPE),
        (
            "smartplug/p/telemetry",
            {"relay_state": HUGE, "timestamp": NOW_MS},
            RejectReason.BAD_VALUE,
        ),
        ("smartplug/p/status", HUGE, RejectReason.BAD_SHAPE),
        (
            "devices/d/telemetry",
            {"data_type": "p", "value": 1, "timestamp": HUGE},
            RejectReason.BAD_TIMESTAMP,
        ),
        ("tele/t/SENSOR", {"Time": HUGE, "ENERGY": {"Power": 1}}, RejectReason.BAD_TIMESTAMP),
        ("shellies/s/relay/0/power", HUGE, RejectReason.BAD_VALUE),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_cbor_bignums_are_rejected_not_raised(
    topic: str, body: object, reason: RejectReason
) -> None:
    # cbor2 decodes bignums of any length; str() of one raises ValueError.
    out = interpret(InboundMessage(topic, cbor2.dumps(body), NOW_MS), ALL)
    assert isinstance(out, Rejection), out
    assert out.reason is reason
    assert out.detail


def test_a_stream_of_distinct_metric_names_leaves_the_name_cache_at_its_bound() -> None:
    # A hostile device may send a new valid name in every message; the cache
    # that spares the regular expression must not grow with them.
    names = [f"hostile_{i}" for i in range(100_000)]
    for name in names:
        assert validation.check_metric_name(name) == name
    assert len(validation._GOOD_METRIC_NAMES) <= validation._GOOD_METRIC_NAMES_MAX
    # Past the bound, a name is still checked, and a bad one still refused.
    with pytest.raises(ProtocolError):
        validation.check_metric_name("9starts_with_a_digit")
