"""Downlinks per family, device answers outside ingest, and the configuration twin. Pure."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattline.commands.dispatcher import _ConfigReport, _no_delay, _RelayReport, device_answer
from wattline.commands.downlinks import Prefixes, command_downlink, family_for, unsupported
from wattline.commands.twin import ConfigError, delta, validate
from wattline.model.messages import CommandAck, CommandResult

ENVELOPE = {"name": "relay_off", "parameters": {}, "issued_ms": 1_795_593_600_000}


@pytest.mark.parametrize(
    ("family", "topic", "payload"),
    [
        ("canonical", "iot/p1/command", ENVELOPE),
        (
            "smartplug",
            "smartplug/p1/control",
            ENVELOPE | {"command": "relay_off", "timestamp": 1_795_593_600},
        ),
        ("tasmota", "cmnd/p1/POWER", "OFF"),
        (
            "shelly",
            "p1/rpc",
            {
                "id": 7,
                "src": "wattline-commands",
                "method": "Switch.Set",
                "params": {"id": 0, "on": False},
            },
        ),
    ],
)
def test_downlink_per_family(family: str, topic: str, payload: Any) -> None:
    downlink = command_downlink(family, "p1", ENVELOPE, Prefixes(), rpc_id=7)
    assert downlink.topic == topic
    body = downlink.payload.decode()
    assert (json.loads(body) if isinstance(payload, dict) else body) == payload


def test_families_without_signatures_take_only_relay_commands() -> None:
    assert family_for("tasmota") == "tasmota"
    assert family_for("smart_plug") == "canonical"
    assert unsupported("tasmota", "reboot") is not None
    assert unsupported("shelly", "relay_on") is None
    assert unsupported("canonical", "reboot") is None


def test_tasmota_result_is_a_relay_report() -> None:
    answer = device_answer("stat/p1/RESULT", b'{"POWER": "OFF"}', Prefixes(), {})
    assert answer == _RelayReport("p1", relay_on=False)
    assert device_answer("stat/p1/RESULT", b'{"Dimmer": 5}', Prefixes(), {}) is None


def test_shelly_response_acks_the_command_it_answers() -> None:
    calls = {7: ("p1", "c-1")}
    payload = b'{"id": 7, "src": "p1", "dst": "wattline-commands", "result": {"was_on": true}}'
    answer = device_answer("wattline-commands/rpc", payload, Prefixes(), calls)
    assert isinstance(answer, CommandAck)
    assert (answer.device_id, answer.command_id, answer.status) == ("p1", "c-1", CommandResult.DONE)
    assert calls == {}


def test_shelly_response_from_another_device_is_ignored() -> None:
    calls = {7: ("p1", "c-1")}
    payload = b'{"id": 7, "src": "p2", "result": {}}'
    assert device_answer("wattline-commands/rpc", payload, Prefixes(), calls) is None
    assert calls == {7: ("p1", "c-1")}


def test_config_report() -> None:
    payload = b'{"version": 3, "config": {"report_interval_s": 5}}'
    answer = device_answer("iot/p1/config/reported", payload, Prefixes(), {})
    assert answer == _ConfigReport("p1", 3, {"report_interval_s": 5})


@pytest.mark.parametrize(
    ("device_type", "desired", "field"),
    [
        ("smart_plug", {"max_power_w": 4000.5}, "max_power_w"),
        ("smart_plug", {"relay_default_on": 1}, "relay_default_on"),
        ("smart_plug", {"report_interval_s": 0}, "report_interval_s"),
        ("smart_plug", {"report_interval_s": 2.5}, "report_interval_s"),
        ("ac_meter", {"colour": "red"}, "colour"),
        (None, {"max_power_w": 1}, "max_power_w"),
    ],
)
def test_config_schema_names_the_field(
    device_type: str | None, desired: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        validate(device_type, desired)
    assert refused.value.field == field


def test_valid_config_and_its_delta() -> None:
    desired = {"report_interval_s": 3600, "max_power_w": 0, "relay_default_on": True}
    validate("smart_plug", desired)
    assert delta(desired, {"report_interval_s": 3600}) == {
        "max_power_w": 0,
        "relay_default_on": True,
    }
    assert delta(desired, desired) == {}


def test_canonical_ack_heard_by_the_dispatcher() -> None:
    payload = b'{"command_id": "c-1", "status": "done", "detail": "ok"}'
    answer = device_answer("iot/p1/command/ack", payload, Prefixes(), {})
    assert isinstance(answer, CommandAck)
    assert (answer.device_id, answer.command_id, answer.status) == ("p1", "c-1", CommandResult.DONE)
    assert answer.detail == "ok"


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("iot/p1/command/ack", b'{"status": "done"}'),  # no command id
        ("iot/p1/command/ack", b'{"command_id": "c-1", "status": "maybe"}'),
        ("iot/p1/command/ack", b"\xa1"),  # CBOR or garbage: left to ingest
        ("iot/p+1/command/ack", b'{"command_id": "c-1", "status": "done"}'),
        ("other/p1/command/ack", b'{"command_id": "c-1", "status": "done"}'),
        ("iot/p1/x/command/ack", b'{"command_id": "c-1", "status": "done"}'),
    ],
)
def test_unusable_canonical_acks_are_left_to_ingest(topic: str, payload: bytes) -> None:
    assert device_answer(topic, payload, Prefixes(), {}) is None


def test_the_dispatcher_socket_sends_small_packets_at_once() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        _no_delay(None, None, sock)  # type: ignore[arg-type]
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as local:
        _no_delay(None, None, local)  # type: ignore[arg-type]  # no TCP option to set


@given(
    device_id=st.text(max_size=80),
    body=st.dictionaries(
        st.sampled_from(["command_id", "status", "detail", "ts", "x"]),
        st.one_of(st.none(), st.integers(), st.text(max_size=300), st.floats()),
        max_size=5,
    ),
)
def test_any_canonical_ack_is_read_within_its_limits_or_left_to_ingest(
    device_id: str, body: dict[str, object]
) -> None:
    payload = json.dumps(body).encode()
    answer = device_answer(f"iot/{device_id}/command/ack", payload, Prefixes(), {})
    if answer is None:
        return
    assert isinstance(answer, CommandAck)
    assert answer.device_id == device_id
    assert 1 <= len(device_id) <= 64
    assert 1 <= len(answer.command_id) <= 128
