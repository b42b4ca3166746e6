"""The scheduled intelligence work: detect anomalies, refit forecasts, measure outcomes.

One process leads (a database lease, ``SqlLeases``), so several Wattline
processes sharing a database detect and fit once. ``run_once`` is the whole
job for tests; ``run_forever`` repeats it until told to stop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from wattline.intelligence.anomalies import REFERENCE_DAYS, detect
from wattline.intelligence.finding_alerts import FindingAlerts
from wattline.intelligence.forecaster import Forecaster
from wattline.intelligence.hourly import DAY_MS, hour_floor, power_metric, read_hourly
from wattline.model.findings import Finding
from wattline.storage.base import StoreUnavailableError
from wattline.storage.ports import IntelligenceStore, SeriesReader

log = logging.getLogger(__name__)

LEASE_NAME = "intelligence"
# The job runs hourly; the lease outlives a slow run (a fleet's refits) comfortably.
PERIOD_S = 3600.0
LEASE_TTL_MS = 3 * 3_600_000
# The days judged each run: a week, so a run missed (a restart) loses nothing.
WINDOW_DAYS = 7


class Leases(Protocol):
    def try_acquire(self, name: str, holder: str, ttl_ms: int) -> bool: ...

    def release(self, name: str, holder: str) -> None: ...


@dataclass(frozen=True, slots=True)
class JobReport:
    devices: int
    new_findings: int
    refitted: int
    measured: int


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def window_start_ms(now_ms: int, tz: ZoneInfo, days: int = WINDOW_DAYS) -> int:
    """Local midnight ``days`` days before the day of ``now_ms``."""
    today = datetime.fromtimestamp(now_ms / 1000, UTC).astimezone(tz).date()
    midnight = datetime.combine(today - timedelta(days=days), datetime.min.time(), tz)
    return int(midnight.timestamp() * 1000)


class AnomalyScanner:
    """Runs the detectors over one device's stored hours."""

    def __init__(self, store: SeriesReader, tz: ZoneInfo | None = None) -> None:
        self._store = store
        self._tz = tz or ZoneInfo("UTC")

    def scan(self, device_id: str, now_ms: int, window_days: int = WINDOW_DAYS) -> list[Finding]:
        metric = power_metric(self._store, device_id)
        if metric is None:
            return []
        window_ms = window_start_ms(now_ms, self._tz, window_days)
        start_ms = hour_floor(window_ms - REFERENCE_DAYS * DAY_MS)
        series = read_hourly(self._store, device_id, metric, start_ms, hour_floor(now_ms))
        return detect(series, window_ms, self._tz, device_id=device_id, metric=metric)


class IntelligenceJobs:
    def __init__(  # noqa: PLR0913 - the job's collaborators
        self,
        intelligence: IntelligenceStore,
        *,
        scanner: AnomalyScanner,
        leases: Leases,
        holder: str,
        forecaster: Forecaster | None = None,
        measure_outcomes: Callable[[int], int] | None = None,
        finding_alerts: FindingAlerts | None = None,
        clock_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self._intelligence = intelligence
        self._scanner = scanner
        self._leases = leases
        self._holder = holder
        self._forecaster = forecaster
        self._measure_outcomes = measure_outcomes
        self._finding_alerts = finding_alerts
        self._clock_ms = clock_ms

    def run_once(self) -> JobReport | None:
        """One pass over every tenant's devices; None when another process leads."""
        if not self._leases.try_acquire(LEASE_NAME, self._holder, LEASE_TTL_MS):
            return None
        now_ms = self._clock_ms()
        devices = self._intelligence.tenant_devices()
        added = refitted = 0
        if self._finding_alerts is not None:
            self._finding_alerts.begin()
        for tenant_id, device_id in devices:
            findings = self._scanner.scan(device_id, now_ms)
            if findings:
                added += self._intelligence.record_findings(tenant_id, findings, now_ms)
            if self._finding_alerts is not None:
                self._finding_alerts.update(tenant_id, device_id, findings, now_ms)
        if self._forecaster is not None:
            refitted = self._forecaster.refit_all([d for _, d in devices], ZoneInfo("UTC"))
        measured = self._measure_outcomes(now_ms) if self._measure_outcomes else 0
        return JobReport(len(devices), added, refitted, measured)

    def run_forever(self, stop: threading.Event, period_s: float = PERIOD_S) -> None:
        """Repeat ``run_once`` every ``period_s`` until ``stop`` is set; then give the lease up."""
        try:
            while not stop.is_set():
                try:
                    report = self.run_once()
                    if report is not None:
                        log.info("intelligence run: %s", report)
                except StoreUnavailableError as exc:
                    # an outage is expected and retried: one line, not a traceback each pass
                    log.warning("intelligence jobs: store unavailable, will retry: %s", exc)
                except Exception:
                    log.exception("intelligence run failed; next run in %.0f s", period_s)
                stop.wait(period_s)
        finally:
            self._leases.release(LEASE_NAME, self._holder)
