"""Commands, alerts, notifications and rule evaluation in /metrics.

The counts come from the database at scrape time (cached briefly), so every
process shows the whole fleet's state; the evaluator's own figures come from
the process that runs it.

- ``wattline_commands{state}``: commands in each state of their state machine;
- ``wattline_alerts{status,severity}``: alerts by status (active, cleared, ...);
- ``wattline_notification_attempts_total{outcome}``: delivery attempts, ok or failed;
- ``wattline_rule_evaluated_batches_total``, ``wattline_rule_evaluated_readings_total``,
  ``wattline_rule_evaluation_seconds_total``, ``wattline_rule_dropped_batches_total``:
  the alert evaluator's work in this process (absent where it does not run).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger("wattline.observability")

# Scrapes come every 15-60 s; a burst of scrapes reads the database once.
_CACHE_S = 10.0


@dataclass(frozen=True, slots=True)
class WorkloadCounts:
    commands_by_state: dict[str, int] = field(default_factory=dict)
    # (status, severity) -> alerts
    alerts_by_status: dict[tuple[str, str], int] = field(default_factory=dict)
    # "ok" / "failed" -> attempts
    notification_attempts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EvaluatorFigures:
    batches: int
    readings: int
    seconds: float
    dropped_batches: int


class WorkloadMetrics(Collector):
    def __init__(
        self,
        counts: Callable[[], WorkloadCounts],
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._counts = counts
        self._monotonic = monotonic
        self._cached: tuple[float, WorkloadCounts] | None = None

    def collect(self) -> Iterator[Metric]:
        counts = self._read()
        commands = GaugeMetricFamily(
            "wattline_commands", "Commands in each state, every tenant", labels=["state"]
        )
        alerts = GaugeMetricFamily(
            "wattline_alerts", "Alerts by status and severity", labels=["status", "severity"]
        )
        attempts = CounterMetricFamily(
            "wattline_notification_attempts",
            "Notification delivery attempts by outcome",
            labels=["outcome"],
        )
        if counts is not None:
            for state, n in sorted(counts.commands_by_state.items()):
                commands.add_metric([state], n)
            for (status, severity), n in sorted(counts.alerts_by_status.items()):
                alerts.add_metric([status, severity], n)
            for outcome, n in sorted(counts.notification_attempts.items()):
                attempts.add_metric([outcome], n)
        yield commands
        yield alerts
        yield attempts

    def _read(self) -> WorkloadCounts | None:
        now = self._monotonic()
        if self._cached is not None and now - self._cached[0] < _CACHE_S:
            return self._cached[1]
        try:
            counts = self._counts()
        except Exception as exc:
            # A scrape during a database outage still answers, without these series.
            log.warning("workload counts unavailable: %s", exc)
            return None
        self._cached = (now, counts)
        return counts


class RuleEvaluationMetrics(Collector):
    """The alert evaluator's work in this process (registered where it runs)."""

    def __init__(self, figures: Callable[[], EvaluatorFigures]) -> None:
        self._figures = figures

    def collect(self) -> Iterator[Metric]:
        return _evaluator_families(self._figures())


def _evaluator_families(figures: EvaluatorFigures) -> Iterator[Metric]:
    for name, doc, value in (
        (
            "wattline_rule_evaluated_batches",
            "Committed batches run through the rules",
            figures.batches,
        ),
        ("wattline_rule_evaluated_readings", "Readings run through the rules", figures.readings),
        ("wattline_rule_evaluation_seconds", "Time spent evaluating rules", figures.seconds),
        (
            "wattline_rule_dropped_batches",
            "Batches the evaluator's full queue dropped",
            figures.dropped_batches,
        ),
    ):
        family = CounterMetricFamily(name, doc)
        family.add_metric([], value)
        yield family
