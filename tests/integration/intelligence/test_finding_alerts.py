"""Anomaly findings as alerts, on SQLite and PostgreSQL: one alert per (device, kind)
with the finding's explanation, raised by the hourly job, cleared when the kind is no
longer found, and each change handed to the notifier's listener."""

from __future__ import annotations

import time

from tests.integration.intelligence.test_intelligence_api import DAY, H, _finding, load

from wattline.intelligence.finding_alerts import FindingAlerts
from wattline.intelligence.jobs import AnomalyScanner, IntelligenceJobs
from wattline.model.alerts import AlertChange, AlertStatus, ChangeKind, Severity
from wattline.model.findings import AnomalyKind
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore
from wattline.storage.sql.alerts import AlertFilter
from wattline.storage.sql.intelligence import SqlIntelligence
from wattline.storage.sql.leases import SqlLeases


def test_the_hourly_job_raises_a_spike_as_an_alert_once(store: SqlStore) -> None:
    now_hour = time.time_ns() // 1_000_000 // H * H
    load(store, "meter-a", 18, spike_at_ms=now_hour - 2 * DAY - 5 * H)
    changes: list[AlertChange] = []
    jobs = IntelligenceJobs(
        SqlIntelligence(store.engine),
        scanner=AnomalyScanner(store),
        leases=SqlLeases(store.engine),
        holder="test",
        finding_alerts=FindingAlerts(store.alerts, changes.append),
        clock_ms=lambda: now_hour,
    )
    assert jobs.run_once() is not None
    alerts = store.alerts.alert_page(
        tenant_id=DEFAULT_TENANT, where=AlertFilter(), after=None, limit=10
    )
    (alert,) = alerts
    assert (alert.rule_id, alert.device_id) == ("anomaly:spike", "meter-a")
    assert alert.rule_name == "Anomaly: spike"
    assert alert.severity is Severity.MAJOR
    assert alert.value == 20_000.0
    assert "spike" in alert.message
    assert "observed 2e+04 W" in alert.message
    assert [c.change for c in changes] == [ChangeKind.RAISED]
    # the next run finds the same spike: still one alert, and nothing new to tell
    assert jobs.run_once() is not None
    assert (
        len(
            store.alerts.alert_page(
                tenant_id=DEFAULT_TENANT, where=AlertFilter(), after=None, limit=10
            )
        )
        == 1
    )
    assert len(changes) == 1
    assert store.alerts.alert_page(tenant_id="t2", where=AlertFilter(), after=None, limit=10) == []


def test_an_alert_clears_when_its_kind_is_no_longer_found(store: SqlStore) -> None:
    t0 = 1_788_220_800_000
    changes: list[AlertChange] = []
    alerts = FindingAlerts(store.alerts, changes.append)
    alerts.begin()
    found = [_finding("dev", AnomalyKind.SPIKE, t0), _finding("dev", AnomalyKind.STUCK, t0)]
    alerts.update("t1", "dev", found, t0)
    assert sorted((c.change, c.rule_id) for c in changes) == [
        (ChangeKind.RAISED, "anomaly:spike"),
        (ChangeKind.RAISED, "anomaly:stuck"),
    ]
    # a new run (a new process, say): only the spike is still found
    later = FindingAlerts(store.alerts, changes.append)
    later.begin()
    later.update("t1", "dev", [_finding("dev", AnomalyKind.SPIKE, t0)], t0 + H)
    assert (changes[-1].change, changes[-1].rule_id) == (ChangeKind.CLEARED, "anomaly:stuck")
    page = store.alerts.alert_page(tenant_id="t1", where=AlertFilter(), after=None, limit=10)
    status = {a.rule_id: a.status for a in page}
    assert status == {"anomaly:spike": AlertStatus.ACTIVE, "anomaly:stuck": AlertStatus.CLEARED}
    # nothing found at all: the spike's alert clears too, and it is told once
    later.update("t1", "dev", [], t0 + 2 * H)
    later.update("t1", "dev", [], t0 + 3 * H)
    assert [c.change for c in changes].count(ChangeKind.CLEARED) == 2
    page = store.alerts.alert_page(tenant_id="t1", where=AlertFilter(), after=None, limit=10)
    assert {a.status for a in page} == {AlertStatus.CLEARED}
    # found again: a new alert (a cleared one is history)
    later.update("t1", "dev", [_finding("dev", AnomalyKind.SPIKE, t0 + 4 * H)], t0 + 4 * H)
    page = store.alerts.alert_page(tenant_id="t1", where=AlertFilter(), after=None, limit=10)
    assert len(page) == 3
