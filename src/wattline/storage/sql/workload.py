"""How much work is in the database right now, counted for /metrics (every tenant).

Commands by state, alerts by status and severity, notification attempts by
outcome: rows other processes wrote count too, so any process's /metrics shows
the fleet's picture.
"""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from wattline.observability.workload_metrics import WorkloadCounts
from wattline.storage.alert_schema import alert_delivery_attempts, alerts
from wattline.storage.command_schema import commands
from wattline.storage.sql.connections import Connections


class SqlWorkload:
    def __init__(self, engine: Engine) -> None:
        self._connections = Connections(engine)

    def counts(self) -> WorkloadCounts:
        with self._connections.read() as conn:
            by_state = conn.execute(
                select(commands.c.state, func.count()).group_by(commands.c.state)
            ).all()
            by_status = conn.execute(
                select(alerts.c.status, alerts.c.severity, func.count()).group_by(
                    alerts.c.status, alerts.c.severity
                )
            ).all()
            attempts = conn.execute(
                select(alert_delivery_attempts.c.ok, func.count()).group_by(
                    alert_delivery_attempts.c.ok
                )
            ).all()
        return WorkloadCounts(
            commands_by_state={str(state): int(n) for state, n in by_state},
            alerts_by_status={(str(st), str(sev)): int(n) for st, sev, n in by_status},
            notification_attempts={("ok" if ok else "failed"): int(n) for ok, n in attempts},
        )
