"""Energy intelligence built once: findings store, detectors, forecaster, advisor, the job.

The job (anomaly scan, forecast refits, outcome measurements) runs hourly in a
thread of its own, led by one process through a database lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from wattline.analytics.recommendations import GridSignals, StaticSignals
from wattline.commands.automation import DecisionAutomation
from wattline.commands.service import CommandService
from wattline.grid.home_signals import TenantGridSignals
from wattline.intelligence.advisor import Advisor
from wattline.intelligence.finding_alerts import FindingAlerts
from wattline.intelligence.forecaster import Forecaster
from wattline.intelligence.jobs import AnomalyScanner, IntelligenceJobs
from wattline.intelligence.models import ModelCache
from wattline.model.alerts import AlertChange
from wattline.storage.sql import SqlStore
from wattline.storage.sql.energy import SqlEnergyData
from wattline.storage.sql.intelligence import SqlIntelligence
from wattline.storage.sql.leases import SqlLeases, holder_name

# For a home whose meter has no tariff, or a tenant with no carbon zone: a two-rate
# night tariff and a typical grid day, so advice still prefers the night and the
# midday lull. Homes with a tariff and a zone are advised by their own figures.
DEFAULT_SIGNALS = StaticSignals(
    prices=[0.12] * 7 + [0.28] * 9 + [0.38] * 3 + [0.28] * 5,
    carbon=[150.0] * 6 + [210.0] * 4 + [170.0] * 6 + [260.0] * 4 + [200.0] * 4,
)


@dataclass(frozen=True)
class Intelligence:
    store: SqlIntelligence
    scanner: AnomalyScanner
    forecaster: Forecaster
    advisor: Advisor


def build_intelligence(
    store: SqlStore,
    data_dir: Path,
    signals: GridSignals | None = None,
    commands: CommandService | None = None,
) -> Intelligence:
    """``commands``: where automated decisions issue their switches (None: advice only)."""
    if signals is None:
        signals = TenantGridSignals(SqlEnergyData(store.engine), store, DEFAULT_SIGNALS)
    findings = SqlIntelligence(store.engine)
    forecaster = Forecaster(store, ModelCache(data_dir / "models"))
    advisor = Advisor(store, findings, signals, forecaster)
    if commands is not None:
        automation = DecisionAutomation(commands, findings)
        advisor.on_decided = automation.apply
        advisor.on_measured = automation.settle
    return Intelligence(
        store=findings,
        scanner=AnomalyScanner(store),
        forecaster=forecaster,
        advisor=advisor,
    )


@contextlib.asynccontextmanager
async def intelligence_jobs(
    parts: Intelligence,
    store: SqlStore,
    on_alert_changed: Callable[[AlertChange], None] | None = None,
    *,
    alerts: bool = True,
) -> AsyncIterator[None]:
    """The hourly job in a thread; stopped (and its lease released) on exit.

    ``alerts``: raise anomaly findings as alerts (off with WATTLINE_ALERTS=false);
    ``on_alert_changed``: where their changes go (the notifier, the live stream)."""
    jobs = IntelligenceJobs(
        parts.store,
        scanner=parts.scanner,
        leases=SqlLeases(store.engine),
        holder=holder_name(),
        forecaster=parts.forecaster,
        measure_outcomes=parts.advisor.measure_outcomes,
        finding_alerts=FindingAlerts(store.alerts, on_alert_changed) if alerts else None,
    )
    stop = threading.Event()
    thread = threading.Thread(
        target=jobs.run_forever, args=(stop,), name="intelligence", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        await asyncio.to_thread(thread.join)
