"""Routing (severity, rules, quiet hours, repeats, backoff) and webhook signatures. Pure."""

from __future__ import annotations

import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from wattline.alerts.routing import RetryPolicy, in_quiet_hours, repeat_due, wants
from wattline.alerts.webhook import BlockedTargetError, check_target, new_secret, signed_headers
from wattline.model.alerts import Alert, AlertChange, AlertStatus, ChangeKind, Severity
from wattline.model.notifications import Routing

T0 = 1_764_057_600_000  # 2025-11-25 08:00 UTC


def alert(severity: Severity = Severity.MAJOR, **changes: object) -> Alert:
    values: dict[str, object] = {
        "alert_id": "a",
        "tenant_id": "t",
        "rule_id": "r",
        "rule_name": "Low voltage",
        "device_id": "d",
        "severity": severity,
        "status": AlertStatus.ACTIVE,
        "value": 9.0,
        "message": "m",
        "first_seen_ms": T0,
        "last_seen_ms": T0,
    }
    values.update(changes)
    return Alert(**values)  # type: ignore[arg-type]


def change(severity: Severity, kind: ChangeKind = ChangeKind.RAISED) -> AlertChange:
    return AlertChange.of(kind, alert(severity), T0)


def test_spec_example_signature() -> None:
    # The Standard Webhooks specification's own example
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    headers = signed_headers(
        secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}'
    )
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_receiver_verifies_our_signature_and_rejects_a_tampered_body() -> None:
    secret = new_secret()
    now = int(time.time())
    headers = signed_headers(secret, "msg_1", now, '{"a":1}')
    assert Webhook(secret).verify('{"a":1}', headers) == {"a": 1}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify('{"a":2}', headers)


@pytest.mark.parametrize(
    ("url", "addresses"),
    [
        ("http://localhost:8080/x", ["127.0.0.1"]),
        ("http://intranet/x", ["10.1.2.3"]),
        ("http://metadata/x", ["169.254.169.254"]),
        ("http://v6/x", ["::1"]),
        ("http://mixed/x", ["93.184.215.14", "192.168.1.1"]),
        ("ftp://example.org/x", ["93.184.215.14"]),
    ],
)
def test_private_targets_are_blocked(url: str, addresses: list[str]) -> None:
    with pytest.raises(BlockedTargetError):
        check_target(url, allow_private=False, resolve=lambda _h, _p: addresses)


def test_public_targets_pass_and_an_allowance_opens_private_ones() -> None:
    check_target(
        "https://example.org/hook", allow_private=False, resolve=lambda _h, _p: ["93.184.215.14"]
    )
    check_target(
        "http://127.0.0.1:9/hook", allow_private=True, resolve=lambda _h, _p: ["127.0.0.1"]
    )


def test_severity_and_rule_filters() -> None:
    routing = Routing(min_severity=Severity.MAJOR, rule_ids=("r",))
    assert wants(routing, change(Severity.CRITICAL), T0)
    assert wants(routing, change(Severity.MAJOR), T0)
    assert not wants(routing, change(Severity.MINOR), T0)
    assert not wants(Routing(rule_ids=("other",)), change(Severity.CRITICAL), T0)
    assert not wants(routing, change(Severity.MAJOR, ChangeKind.REPEATED), T0)
    assert not wants(Routing(send_cleared=False), change(Severity.MAJOR, ChangeKind.CLEARED), T0)


def test_quiet_hours_in_the_recipients_zone_hold_all_but_critical() -> None:
    # 08:00 UTC is 17:00 in Tokyo and 03:00 in New York
    tokyo = Routing(quiet_start="22:00", quiet_end="07:00", timezone="Asia/Tokyo")
    new_york = Routing(quiet_start="22:00", quiet_end="07:00", timezone="America/New_York")
    assert not in_quiet_hours(tokyo, T0)
    assert in_quiet_hours(new_york, T0)
    assert not wants(new_york, change(Severity.MAJOR), T0)
    assert wants(new_york, change(Severity.CRITICAL), T0)
    assert in_quiet_hours(Routing(quiet_start="07:00", quiet_end="09:00"), T0)


def test_repeats_of_open_unacknowledged_alerts() -> None:
    routing = Routing(repeat_interval_s=600)
    assert not repeat_due(routing, alert(), T0, T0 + 599_999)
    assert repeat_due(routing, alert(), T0, T0 + 600_000)
    assert not repeat_due(routing, alert(acknowledged_ms=T0), T0, T0 + 10**9)
    assert not repeat_due(routing, alert(status=AlertStatus.CLEARED), T0, T0 + 10**9)
    assert not repeat_due(Routing(), alert(), T0, T0 + 10**9)


def test_backoff_doubles_then_gives_up() -> None:
    policy = RetryPolicy(first_delay_s=1, factor=2, max_delay_s=5, max_attempts=5)
    assert [policy.delay_ms(n) for n in range(1, 6)] == [1000, 2000, 4000, 5000, None]
