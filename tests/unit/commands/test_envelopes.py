"""Signed envelopes: what verifies, and why the rest is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from wattline.commands.envelopes import (
    MAX_CLOCK_SKEW_MS,
    EnvelopeRefusedError,
    Unsigned,
    key_id,
    public_key_from_text,
    public_key_text,
    sign,
    verify,
)

KEY = Ed25519PrivateKey.generate()
KEYS = {key_id(KEY.public_key()): KEY.public_key()}
NOW = 1_764_057_600_000

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


def unsigned(**changes: Any) -> Unsigned:
    fields = {
        "device_id": "plug-1",
        "command_id": "c-1",
        "name": "relay_on",
        "parameters": {},
        "nonce": "n-1",
        "issued_ms": NOW,
        "expires_ms": NOW + 1,
    } | changes
    return Unsigned(**fields)


@given(parameters=st.dictionaries(st.text(max_size=16), json_values, max_size=5))
def test_any_parameters_survive_the_wire(parameters: dict[str, Any]) -> None:
    document = json.loads(json.dumps(sign(unsigned(parameters=parameters), KEY)))
    assert verify(document, KEYS, "plug-1", NOW)["parameters"] == parameters


@given(st.integers(min_value=0, max_value=10**12))
def test_expiry_is_exact_to_the_millisecond(late_ms: int) -> None:
    document = sign(unsigned(expires_ms=NOW), KEY)
    with pytest.raises(EnvelopeRefusedError, match="expired"):
        verify(document, KEYS, "plug-1", NOW + late_ms)
    assert verify(document, KEYS, "plug-1", NOW - 1)


@given(st.integers(min_value=1, max_value=10**9))
def test_a_clock_far_behind_is_refused_a_little_behind_is_not(ahead_ms: int) -> None:
    document = sign(unsigned(issued_ms=NOW + ahead_ms, expires_ms=NOW + 2 * 10**9), KEY)
    if ahead_ms > MAX_CLOCK_SKEW_MS:
        with pytest.raises(EnvelopeRefusedError, match="future"):
            verify(document, KEYS, "plug-1", NOW)
    else:
        assert verify(document, KEYS, "plug-1", NOW)


@given(field=st.sampled_from(["device_id", "command_id", "name", "nonce", "issued_ms"]))
def test_any_change_after_signing_breaks_the_signature(field: str) -> None:
    document = sign(unsigned(), KEY)
    document[field] = document[field] + (1 if isinstance(document[field], int) else "x")
    with pytest.raises(EnvelopeRefusedError, match="bad signature"):
        verify(document, KEYS, "plug-1", NOW)


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ([], "malformed"),
        ({"v": 1}, "missing"),
        (sign(unsigned(), Ed25519PrivateKey.generate()), "unknown signing key"),
        (sign(unsigned(device_id="plug-2"), KEY), "another device"),
        (sign(unsigned(), KEY) | {"sig": "!!"}, "bad signature"),
        (sign(unsigned(), KEY) | {"v": 2}, "version"),
    ],
)
def test_refusals_say_why(document: object, reason: str) -> None:
    with pytest.raises(EnvelopeRefusedError, match=reason):
        verify(document, KEYS, "plug-1", NOW)


def test_public_keys_round_trip_as_text() -> None:
    text = public_key_text(KEY.public_key())
    assert key_id(public_key_from_text(text)) == key_id(KEY.public_key())
