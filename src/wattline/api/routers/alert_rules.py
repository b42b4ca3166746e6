"""Alert rules as data: read by viewers, created, changed (a new version each time)
and retired by admins; every change in the audit log."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Response, status

from wattline.alerts.preview import REPLAYABLE
from wattline.api import rule_preview
from wattline.api.alert_schemas import (
    MAX_RULES_PER_TENANT,
    RuleIn,
    RuleList,
    RuleOut,
    RuleVersionOut,
    RuleVersions,
)
from wattline.api.audit_trail import AuditDep
from wattline.api.deps import AdminFirstRoute, PrincipalDep, ServicesDep, StoreDep, require
from wattline.api.routers.alerts import AlertsDep
from wattline.api.rule_preview import RulePreview
from wattline.api.tenancy import owned_device
from wattline.model.alerts import Rule, RuleKind, ScopeKind
from wattline.model.times import iso_ms
from wattline.security.principal import Principal
from wattline.security.roles import Role

router = APIRouter(prefix="/api/v1/alert-rules", tags=["alerts"], route_class=AdminFirstRoute)
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such rule in your tenant"}}


def _rule(body: RuleIn, rule_id: str, principal: Principal, now_ms: int) -> Rule:
    return Rule(
        rule_id=rule_id,
        tenant_id=principal.tenant_id,
        name=body.name,
        kind=RuleKind(body.kind),
        severity=body.severity,
        scope=body.scope,
        scope_value=body.scope_value,
        metric=body.metric,
        params=body.params.model_dump(),
        enabled=body.enabled,
        created_ms=now_ms,
        updated_ms=now_ms,
    )


def _check_scope(store: StoreDep, principal: Principal, body: RuleIn) -> None:
    if body.scope is ScopeKind.DEVICE and body.scope_value is not None:
        owned_device(store, principal, body.scope_value)


@router.get("", dependencies=[require(Role.VIEWER)])
def list_rules(alerts: AlertsDep, principal: PrincipalDep) -> RuleList:
    return RuleList(rules=[RuleOut.of(r) for r in alerts.list_rules(tenant_id=principal.tenant_id)])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require(Role.ADMIN)],
    responses={
        404: {"description": "the scope names a device not in your tenant"},
        409: {"description": "the tenant has as many rules as allowed"},
    },
)
def create_rule(  # noqa: PLR0913, PLR0917 - the route's dependencies
    body: Annotated[RuleIn, Body()],
    alerts: AlertsDep,
    store: StoreDep,
    services: ServicesDep,
    principal: PrincipalDep,
    audit: AuditDep,
) -> RuleOut:
    """A new rule; its parameters depend on its kind (see the schema)."""
    _check_scope(store, principal, body)
    if len(alerts.list_rules(tenant_id=principal.tenant_id)) >= MAX_RULES_PER_TENANT:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"a tenant has at most {MAX_RULES_PER_TENANT} rules: retire one first",
        )
    rule = _rule(body, uuid.uuid4().hex, principal, services.clock_ms())
    saved = alerts.save_rule(rule, saved_by=principal.display)
    audit.record(
        "alert_rule.create",
        f"alert_rule:{saved.rule_id}",
        {"name": saved.name, "kind": saved.kind.value},
    )
    return RuleOut.of(saved)


@router.post(
    "/preview",
    dependencies=[require(Role.ADMIN)],
    responses={
        404: {"description": "the scope names a device not in your tenant"},
        422: {"description": "the rule is malformed, or its kind reads no readings"},
    },
)
def preview_rule(
    body: Annotated[RuleIn, Body()],
    alerts: AlertsDep,
    store: StoreDep,
    services: ServicesDep,
    principal: PrincipalDep,
) -> RulePreview:
    """How often the rule (a definition, saved or not) would have fired over the last
    7 days: its scope's stored readings replayed through the evaluator's conditions.
    At most 100 devices and 200,000 readings: past either, ``truncated`` is true.
    Offline and quarantine-spike rules read no readings, so they have no preview."""
    _check_scope(store, principal, body)
    if RuleKind(body.kind) not in REPLAYABLE:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"a {body.kind} rule reads status reports or quarantined messages,"
            " not readings: it has no preview",
        )
    rule = _rule(body, "preview", principal, services.clock_ms())
    return rule_preview.preview_rule(alerts, store, rule, services.clock_ms())


@router.get("/{rule_id}", dependencies=[require(Role.VIEWER)], responses=_NOT_FOUND)
def get_rule(rule_id: str, alerts: AlertsDep, principal: PrincipalDep) -> RuleOut:
    rule = alerts.get_rule(rule_id, tenant_id=principal.tenant_id)
    if rule is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no rule {rule_id[:40]!r}")
    return RuleOut.of(rule)


@router.put("/{rule_id}", dependencies=[require(Role.ADMIN)], responses=_NOT_FOUND)
def update_rule(  # noqa: PLR0913, PLR0917 - the route's dependencies
    rule_id: str,
    body: Annotated[RuleIn, Body()],
    alerts: AlertsDep,
    store: StoreDep,
    services: ServicesDep,
    principal: PrincipalDep,
    audit: AuditDep,
) -> RuleOut:
    """Replace the rule: its version goes up by one, the old version stays readable."""
    before = alerts.get_rule(rule_id, tenant_id=principal.tenant_id)
    if before is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no rule {rule_id[:40]!r}")
    _check_scope(store, principal, body)
    rule = _rule(body, rule_id, principal, services.clock_ms())
    saved = alerts.save_rule(rule, saved_by=principal.display)
    audit.record(
        "alert_rule.update",
        f"alert_rule:{rule_id}",
        {"name": saved.name, "version": saved.version, "before": before.version},
    )
    return RuleOut.of(saved)


@router.delete(
    "/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[require(Role.ADMIN)],
    responses=_NOT_FOUND,
)
def delete_rule(
    rule_id: str, alerts: AlertsDep, services: ServicesDep, principal: PrincipalDep, audit: AuditDep
) -> Response:
    """Retire the rule: it stops evaluating; its alerts and versions stay as history."""
    if not alerts.delete_rule(rule_id, tenant_id=principal.tenant_id, now_ms=services.clock_ms()):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no rule {rule_id[:40]!r}")
    audit.record("alert_rule.delete", f"alert_rule:{rule_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{rule_id}/versions", dependencies=[require(Role.VIEWER)], responses=_NOT_FOUND)
def rule_versions(rule_id: str, alerts: AlertsDep, principal: PrincipalDep) -> RuleVersions:
    """Every saved version of the rule, oldest first, with who saved it."""
    found = alerts.rule_versions(rule_id, tenant_id=principal.tenant_id)
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no rule {rule_id[:40]!r}")
    return RuleVersions(
        versions=[
            RuleVersionOut(
                version=v["version"],
                saved_by=v["saved_by"],
                saved_at=iso_ms(v["saved_ms"]),
                definition=v["definition"],
            )
            for v in found
        ]
    )
