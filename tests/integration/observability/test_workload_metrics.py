"""Commands, alerts and notification attempts counted from the database for /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from tests.integration.observability.test_prometheus import promtool

from wattline.observability.workload_metrics import (
    EvaluatorFigures,
    RuleEvaluationMetrics,
    WorkloadMetrics,
)
from wattline.storage.alert_schema import alert_delivery_attempts, alerts
from wattline.storage.command_schema import commands
from wattline.storage.sql import SqlStore
from wattline.storage.sql.workload import SqlWorkload


def _command(command_id: str, state: str, tenant: str) -> dict[str, object]:
    return {
        "command_id": command_id,
        "tenant_id": tenant,
        "device_id": "plug-1",
        "name": "relay_off",
        "parameters": "{}",
        "issuer": "user:u",
        "created_ms": 1,
        "expires_ms": 2,
        "state": state,
        "state_ms": 1,
        "attempts": 0,
        "next_attempt_ms": 1,
        "family": "canonical",
    }


def _alert(alert_id: str, status: str, severity: str) -> dict[str, object]:
    return {
        "alert_id": alert_id,
        "tenant_id": "t1",
        "rule_id": "r",
        "rule_name": "Low voltage",
        "device_id": alert_id,
        "severity": severity,
        "status": status,
        "message": "voltage_v 9.5 < 10",
        "first_seen_ms": 1,
        "last_seen_ms": 1,
        "occurrences": 1,
    }


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_counts_cover_every_tenant_and_pass_promtool(store: SqlStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            commands.insert(),
            [
                _command("c1", "queued", "t1"),
                _command("c2", "queued", "t2"),
                _command("c3", "succeeded", "t1"),
            ],
        )
        conn.execute(
            alerts.insert(),
            [_alert("a1", "active", "critical"), _alert("a2", "cleared", "minor")],
        )
        conn.execute(
            alert_delivery_attempts.insert(),
            [
                {
                    "delivery_id": "d",
                    "attempt": n,
                    "tenant_id": "t1",
                    "ts_ms": n,
                    "ok": n == 4,
                    "detail": "HTTP 500" if n < 4 else "HTTP 200",
                }
                for n in (1, 2, 3, 4)
            ],
        )
    registry = CollectorRegistry()
    registry.register(WorkloadMetrics(SqlWorkload(store.engine).counts))
    registry.register(RuleEvaluationMetrics(lambda: EvaluatorFigures(3, 120, 0.25, 0)))
    samples = _samples(registry)
    assert samples[("wattline_commands", (("state", "queued"),))] == 2
    assert samples[("wattline_commands", (("state", "succeeded"),))] == 1
    assert samples[("wattline_alerts", (("severity", "critical"), ("status", "active")))] == 1
    assert samples[("wattline_alerts", (("severity", "minor"), ("status", "cleared")))] == 1
    assert samples[("wattline_notification_attempts_total", (("outcome", "failed"),))] == 3
    assert samples[("wattline_notification_attempts_total", (("outcome", "ok"),))] == 1
    assert samples[("wattline_rule_evaluated_readings_total", ())] == 120
    assert samples[("wattline_rule_evaluation_seconds_total", ())] == 0.25
    linted = promtool("check", "metrics", stdin=generate_latest(registry).decode())
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_a_database_outage_leaves_the_scrape_answering() -> None:
    def unavailable() -> object:
        raise ConnectionError("database down")

    registry = CollectorRegistry()
    registry.register(WorkloadMetrics(unavailable))  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    assert "# TYPE wattline_commands gauge" in text
    assert "wattline_commands{" not in text
