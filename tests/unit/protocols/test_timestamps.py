from __future__ import annotations

import pytest

from wattline.model.messages import RejectReason
from wattline.protocols.errors import ProtocolError
from wattline.protocols.timestamps import parse_timestamp_ms


@pytest.mark.parametrize(
    ("value", "expected_ms"),
    [
        (1_764_057_600_000, 1_764_057_600_000),
        (1_764_057_600_000.9, 1_764_057_600_000),
        ("2025-11-25T08:00:00Z", 1_764_057_600_000),
        ("2025-11-25T09:00:00+01:00", 1_764_057_600_000),
        ("2025-11-25T08:00:00.250Z", 1_764_057_600_250),
    ],
)
def test_accepted_forms(value: object, expected_ms: int) -> None:
    assert parse_timestamp_ms(value) == expected_ms


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (1_764_057_600, "epoch seconds?"),
        ("2025-11-25T08:00:00", "no UTC offset"),
        ("yesterday", "not an RFC 3339"),
        (True, "must be a number"),
        (None, "not NoneType"),
        (float("nan"), "not finite"),
        (float("inf"), "not finite"),
        (10**30, "after the year 2100"),
    ],
)
def test_rejected_forms_say_why(value: object, fragment: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_timestamp_ms(value)
    assert caught.value.reason is RejectReason.BAD_TIMESTAMP
    assert fragment in caught.value.detail
