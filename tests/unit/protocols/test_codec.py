from __future__ import annotations

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattline.model.messages import RejectReason
from wattline.protocols.codec import decode_payload
from wattline.protocols.errors import ProtocolError

DOC = {"seq": 1, "ts": 1_764_000_000_000, "metrics": {"power_w": 12.5}}


def test_json_is_detected() -> None:
    assert decode_payload(b'  {"seq": 1, "ts": 1764000000000, "metrics": {"power_w": 12.5}}') == DOC


def test_cbor_is_detected() -> None:
    assert decode_payload(cbor2.dumps(DOC)) == DOC


def test_content_type_wins_over_detection() -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_payload(b'{"a": 1}', content_type="application/cbor")
    assert caught.value.reason is RejectReason.UNDECODABLE


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"", "empty payload"),
        (b"   ", "empty payload"),
        (b'{"a": ', "invalid JSON"),
        (b"\xff\xfe\xfd", "neither JSON nor valid CBOR"),
        (b"[" * 5000 + b"]" * 5000, "invalid JSON"),
    ],
)
def test_malformed_payloads_name_the_problem(payload: bytes, fragment: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_payload(payload)
    assert caught.value.reason is RejectReason.UNDECODABLE
    assert fragment in caught.value.detail


@given(st.binary(max_size=512), st.sampled_from([None, "application/json", "application/cbor"]))
def test_no_input_crashes_the_decoder(payload: bytes, content_type: str | None) -> None:
    try:
        decode_payload(payload, content_type)
    except ProtocolError as exc:
        failure = exc
    else:
        return
    assert failure.reason is RejectReason.UNDECODABLE
