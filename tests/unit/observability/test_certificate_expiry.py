"""The certificate-expiry metric: one series per kind, looked up at most once a minute."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from wattline.observability.certificates import CertificateExpiry

FAMILY = "wattline_certificate_expiry_timestamp_seconds"


class Clock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


def scrape(registry: CollectorRegistry) -> dict[str, float]:
    values = {}
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith(FAMILY + "{"):
            labels, value = line.rsplit(" ", 1)
            values[labels.split('"')[1]] = float(value)
    return values


def test_one_series_per_kind_that_has_a_certificate() -> None:
    registry = CollectorRegistry()
    sources = {"ca": lambda: 2_000_000_000.0, "broker": lambda: None, "device": lambda: 1.8e9}
    registry.register(CertificateExpiry(sources))
    assert scrape(registry) == {"ca": 2_000_000_000.0, "device": 1.8e9}


def test_a_source_is_asked_at_most_once_a_minute() -> None:
    calls: list[float] = []
    clock = Clock()

    def device() -> float:
        calls.append(clock.now_s)
        return 1.8e9 + len(calls)

    registry = CollectorRegistry()
    registry.register(CertificateExpiry({"device": device}, monotonic=clock))
    assert scrape(registry) == {"device": 1.8e9 + 1}
    clock.now_s = 59
    assert scrape(registry) == {"device": 1.8e9 + 1}
    clock.now_s = 61
    assert scrape(registry) == {"device": 1.8e9 + 2}
    assert calls == [0, 61]


def test_a_failing_source_leaves_its_kind_out_and_the_scrape_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def down() -> float:
        raise ConnectionError("database unreachable")

    registry = CollectorRegistry()
    registry.register(CertificateExpiry({"device": down, "ca": lambda: 2e9}))
    assert scrape(registry) == {"ca": 2e9}
    assert "certificate expiry of device unknown: database unreachable" in caplog.text
