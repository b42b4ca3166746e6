"""Anomaly findings raised as alerts: one alert per (device, finding kind).

Each hourly scan judges a device's last week (``jobs.py``). While the scan
reports a finding of a kind, that (device, kind) has one open alert whose
message is the finding's explanation; the first scan that no longer reports
the kind clears it. The alert is an ordinary alert (listed, acknowledged and
notified through the tenant's channels, ``docs/alerts.md``); its ``rule_id`` is
``anomaly:{kind}``, a detector rather than a rule a user edits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from wattline.model.alerts import Alert, AlertChange, AlertOrigin, ChangeKind, Severity
from wattline.model.findings import AnomalyKind, Finding

log = logging.getLogger(__name__)

RULE_PREFIX = "anomaly:"
# How much each kind usually matters: a spike can be a fault drawing far too much;
# a stuck meter loses data; the others are habits worth a look, not an emergency.
SEVERITIES = {
    AnomalyKind.SPIKE: Severity.MAJOR,
    AnomalyKind.STUCK: Severity.MINOR,
    AnomalyKind.DRIFT: Severity.MINOR,
    AnomalyKind.NIGHT_USE: Severity.WARNING,
    AnomalyKind.ALWAYS_ON: Severity.WARNING,
    AnomalyKind.PROFILE_CHANGE: Severity.INFO,
}


class AnomalyAlertStore(Protocol):
    def raise_alert(
        self,
        rule: AlertOrigin,
        device_id: str,
        *,
        value: float | None,
        message: str,
        now_ms: int,
    ) -> tuple[Alert, bool]: ...

    def clear_open(self, rule_id: str, device_id: str, *, now_ms: int) -> Alert | None: ...

    def open_alert_keys(self) -> set[tuple[str, str]]: ...


@dataclass(frozen=True, slots=True)
class AnomalyOrigin:
    """The detector of one finding kind, for one tenant, as an alert's origin."""

    tenant_id: str
    kind: AnomalyKind

    @property
    def rule_id(self) -> str:
        return RULE_PREFIX + self.kind.value

    @property
    def name(self) -> str:
        return "Anomaly: " + self.kind.value.replace("_", " ")

    @property
    def severity(self) -> Severity:
        return SEVERITIES[self.kind]


def message(finding: Finding) -> str:
    """The alert's text: the finding's reason in words, and the figures behind it."""
    return (
        f"{finding.explanation} (observed {finding.observed:.4g} {finding.unit}, expected "
        f"{finding.expected_low:.4g} to {finding.expected_high:.4g}, score {finding.score:.1f})"
    )


class FindingAlerts:
    """Keeps the anomaly alerts in step with the findings of each scan."""

    def __init__(
        self, store: AnomalyAlertStore, on_change: Callable[[AlertChange], None] | None = None
    ) -> None:
        self._store = store
        self._on_change = on_change
        self._open: set[tuple[str, str]] = set()

    def begin(self) -> None:
        """Read which anomaly alerts are open (once per run: they may have been cleared by hand)."""
        self._open = {
            key for key in self._store.open_alert_keys() if key[0].startswith(RULE_PREFIX)
        }

    def update(
        self, tenant_id: str, device_id: str, findings: Sequence[Finding], now_ms: int
    ) -> None:
        """Raise an alert for each kind found and not yet alerted; clear the kinds not found."""
        newest: dict[AnomalyKind, Finding] = {}
        for finding in sorted(findings, key=lambda f: f.start_ms):
            newest[finding.kind] = finding
        for kind, finding in newest.items():
            origin = AnomalyOrigin(tenant_id, kind)
            if (origin.rule_id, device_id) in self._open:
                continue
            alert, opened = self._store.raise_alert(
                origin, device_id, value=finding.observed, message=message(finding), now_ms=now_ms
            )
            self._open.add((origin.rule_id, device_id))
            self._tell(ChangeKind.RAISED if opened else ChangeKind.REPEATED, alert, now_ms)
        self._clear(device_id, (k for k in AnomalyKind if k not in newest), now_ms)

    def _clear(self, device_id: str, kinds: Iterable[AnomalyKind], now_ms: int) -> None:
        for kind in kinds:
            key = (RULE_PREFIX + kind.value, device_id)
            if key not in self._open:
                continue
            self._open.discard(key)
            cleared = self._store.clear_open(key[0], device_id, now_ms=now_ms)
            if cleared is not None:
                self._tell(ChangeKind.CLEARED, cleared, now_ms)

    def _tell(self, change: ChangeKind, alert: Alert, now_ms: int) -> None:
        if self._on_change is None:
            return
        try:
            self._on_change(AlertChange.of(change, alert, now_ms))
        except Exception:
            log.exception("an alert listener failed")
