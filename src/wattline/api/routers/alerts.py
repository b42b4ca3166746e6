"""Alerts: list with filters and cursor pages, one alert with its comments, the
per-tenant summary; acknowledge, clear and comment (operators)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status

from wattline.api.alert_schemas import AlertOut, AlertPage, AlertSummary, CommentIn
from wattline.api.audit_trail import AuditDep
from wattline.api.cursors import DEFAULT_PAGE, decode_int_str, encode
from wattline.api.deps import AdminFirstRoute, PrincipalDep, ServicesDep, require
from wattline.api.paging import CursorParam, LimitParam, page_start
from wattline.model.alerts import (
    Alert,
    AlertChange,
    AlertComment,
    AlertStatus,
    ChangeKind,
    Severity,
)
from wattline.security.roles import Role
from wattline.storage.sql.alerts import AlertFilter, SqlAlerts

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"], route_class=AdminFirstRoute)


async def get_alerts(services: ServicesDep) -> SqlAlerts:
    if services.alerts is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "alerts are not offered by this server")
    return services.alerts


AlertsDep = Annotated[SqlAlerts, Depends(get_alerts)]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such alert in your tenant"}}


def _ms(value: datetime | None, name: str) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name}: give a time zone (e.g. Z)"
        )
    return int(value.timestamp() * 1000)


@router.get(
    "",
    dependencies=[require(Role.VIEWER)],
    responses={422: {"description": "a bad filter or cursor"}},
)
def list_alerts(  # noqa: PLR0913, PLR0917 - one parameter per filter
    alerts: AlertsDep,
    principal: PrincipalDep,
    status_: Annotated[AlertStatus | None, Query(alias="status")] = None,
    severity: Severity | None = None,
    device_id: Annotated[str | None, Query(max_length=64)] = None,
    rule_id: Annotated[str | None, Query(max_length=40)] = None,
    acknowledged: bool | None = None,
    since: Annotated[datetime | None, Query(description="first seen at or after")] = None,
    until: Annotated[datetime | None, Query(description="first seen before")] = None,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_PAGE,
) -> AlertPage:
    """Alerts of your tenant, newest first; pass ``next_cursor`` back as ``cursor``."""
    after = page_start(lambda text: decode_int_str("alerts", text, "(first_seen, id)"), cursor)
    where = AlertFilter(
        status=status_,
        severity=severity,
        device_id=device_id,
        rule_id=rule_id,
        acknowledged=acknowledged,
        since_ms=_ms(since, "since"),
        until_ms=_ms(until, "until"),
    )
    page = alerts.alert_page(
        tenant_id=principal.tenant_id, where=where, after=after, limit=limit + 1
    )
    more = len(page) > limit
    page = page[:limit]
    last = page[-1] if page else None
    return AlertPage(
        alerts=[AlertOut.of(a) for a in page],
        next_cursor=encode("alerts", last.first_seen_ms, last.alert_id) if more and last else None,
    )


@router.get("/summary", dependencies=[require(Role.VIEWER)])
def alert_summary(alerts: AlertsDep, principal: PrincipalDep) -> AlertSummary:
    """Active alerts by severity, for a health overview."""
    counts = alerts.summary(tenant_id=principal.tenant_id)
    return AlertSummary(
        active=counts["active"],
        unacknowledged=counts["unacknowledged"],
        total_active=sum(counts["active"].values()),
    )


def _found(alert: Alert | None, alert_id: str) -> Alert:
    if alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id[:40]!r}")
    return alert


@router.get("/{alert_id}", dependencies=[require(Role.VIEWER)], responses=_NOT_FOUND)
def get_alert(alert_id: str, alerts: AlertsDep, principal: PrincipalDep) -> AlertOut:
    tenant = principal.tenant_id
    alert = _found(alerts.get_alert(alert_id, tenant_id=tenant), alert_id)
    return AlertOut.of(alert, alerts.comments(alert_id, tenant_id=tenant))


def _tell(services: ServicesDep, kind: ChangeKind, alert: Alert) -> None:
    if services.on_alert_changed is not None:
        # the time the store recorded: a catch-up then covers exactly this change
        ts_ms = alert.changed_ms if alert.changed_ms is not None else services.clock_ms()
        services.on_alert_changed(AlertChange.of(kind, alert, ts_ms))


@router.post("/{alert_id}/acknowledge", dependencies=[require(Role.OPERATOR)], responses=_NOT_FOUND)
def acknowledge_alert(
    alert_id: str,
    alerts: AlertsDep,
    services: ServicesDep,
    principal: PrincipalDep,
    audit: AuditDep,
) -> AlertOut:
    """Acknowledge: someone is on it. A second acknowledgement keeps the first."""
    tenant = principal.tenant_id
    before = _found(alerts.get_alert(alert_id, tenant_id=tenant), alert_id)
    alert = _found(
        alerts.acknowledge(
            alert_id, tenant_id=tenant, by=principal.display, now_ms=services.clock_ms()
        ),
        alert_id,
    )
    if not before.acknowledged:
        audit.record(
            "alert.acknowledge",
            f"alert:{alert_id}",
            {"rule": alert.rule_name, "device": alert.device_id},
        )
        _tell(services, ChangeKind.ACKNOWLEDGED, alert)
    return AlertOut.of(alert)


@router.post("/{alert_id}/clear", dependencies=[require(Role.OPERATOR)], responses=_NOT_FOUND)
def clear_alert(
    alert_id: str,
    alerts: AlertsDep,
    services: ServicesDep,
    principal: PrincipalDep,
    audit: AuditDep,
) -> AlertOut:
    """Clear by hand; the rule raises a new alert only after its condition recovered."""
    tenant = principal.tenant_id
    before = _found(alerts.get_alert(alert_id, tenant_id=tenant), alert_id)
    alert = _found(
        alerts.clear_by_hand(
            alert_id, tenant_id=tenant, by=principal.display, now_ms=services.clock_ms()
        ),
        alert_id,
    )
    if before.status is AlertStatus.ACTIVE:
        audit.record(
            "alert.clear", f"alert:{alert_id}", {"rule": alert.rule_name, "device": alert.device_id}
        )
        _tell(services, ChangeKind.CLEARED, alert)
    return AlertOut.of(alert)


@router.post(
    "/{alert_id}/comments",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require(Role.OPERATOR)],
    responses=_NOT_FOUND,
)
def comment_alert(
    alert_id: str,
    body: CommentIn,
    alerts: AlertsDep,
    services: ServicesDep,
    principal: PrincipalDep,
) -> AlertOut:
    tenant = principal.tenant_id
    comment = AlertComment(alert_id, principal.display, body.text, services.clock_ms())
    if not alerts.add_comment(comment, tenant_id=tenant):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id[:40]!r}")
    alert = _found(alerts.get_alert(alert_id, tenant_id=tenant), alert_id)
    _tell(services, ChangeKind.COMMENTED, alert)
    return AlertOut.of(alert, alerts.comments(alert_id, tenant_id=tenant))
