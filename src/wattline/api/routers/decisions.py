"""Homes (energy sources, preferences), their recommendations and the decision log."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel, Field, field_validator

from wattline.api.cursors import DEFAULT_PAGE, decode_int, encode
from wattline.api.deps import AdminFirstRoute, PrincipalDep, StoreDep, require
from wattline.api.intelligence_deps import AdvisorDep, IntelligenceDep
from wattline.api.paging import CursorParam, LimitParam, page_start
from wattline.api.routers.anomalies import _time
from wattline.model.calendar import parse_tz
from wattline.model.decisions import (
    Automation,
    EnergySource,
    Home,
    Preferences,
    Priority,
    SourceKind,
    StoredDecision,
)
from wattline.model.devices import Device
from wattline.model.times import iso_ms
from wattline.security.roles import Role
from wattline.storage.ports import TelemetryStore
from wattline.storage.sql.intelligence import DecisionFilter

router = APIRouter(tags=["recommendations"], route_class=AdminFirstRoute)
NOT_OFFERED: dict[int | str, dict[str, str]] = {
    501: {"description": "no intelligence services in this process"}
}

HomeId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
MAX_SOURCES = 16


class SourceIn(BaseModel):
    kind: SourceKind
    device_id: str | None = Field(default=None, max_length=64)
    capacity_kwh: float | None = Field(default=None, gt=0, le=10_000, allow_inf_nan=False)


class PreferencesIn(BaseModel):
    priority: Priority = Priority.COST
    battery_reserve_pct: float = Field(default=20.0, ge=0, le=100, allow_inf_nan=False)
    expensive_per_kwh: float = Field(default=0.30, ge=0, le=100, allow_inf_nan=False)
    high_carbon_g_per_kwh: float = Field(default=250.0, ge=0, le=5_000, allow_inf_nan=False)
    quiet_from_h: int | None = Field(default=None, ge=0, le=23)
    quiet_to_h: int | None = Field(default=None, ge=0, le=23)
    flexible_load_h: int = Field(default=2, ge=1, le=12)
    flexible_load_kw: float = Field(default=1.0, gt=0, le=100, allow_inf_nan=False)
    automation: bool = Field(
        default=False,
        description="switch the flexible device on for the advised window by itself (commands)",
    )


class HomeIn(BaseModel):
    tz: str = Field(default="UTC", max_length=64)
    sources: list[SourceIn] = Field(default_factory=list, max_length=MAX_SOURCES)
    load_device_id: str | None = Field(default=None, max_length=64)
    flexible_device_id: str | None = Field(default=None, max_length=64)
    preferences: PreferencesIn = Field(default_factory=PreferencesIn)

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        parse_tz(value)  # ValueError: a 422 naming the zone
        return value


class SourceStatusOut(BaseModel):
    kind: SourceKind
    device_id: str | None
    capacity_kwh: float | None
    status: str = Field(description="online, offline or unknown (the device's connection state)")
    latest: dict[str, float] = Field(description="the device's latest values")


class HomeOut(BaseModel):
    home_id: str
    tz: str
    sources: list[SourceStatusOut]
    load_device_id: str | None
    flexible_device_id: str | None
    preferences: PreferencesIn


class OutcomeOut(BaseModel):
    measured: str
    kwh: float
    cost_saved: float
    co2_saved_g: float
    explanation: str


class AutomationOut(BaseModel):
    status: str = Field(
        description="issued, refused, nothing_to_switch, or the switch-on command's final state"
    )
    command_ids: list[str]
    detail: str
    recorded: str


class DecisionOut(BaseModel):
    id: int
    home_id: str
    decided: str
    rule_version: str
    source: SourceKind
    run_from: str | None
    run_to: str | None
    explanation: str
    inputs: dict[str, object] = Field(description="what the rules saw, as they saw it")
    expected: dict[str, float]
    outcome: OutcomeOut | None = Field(description="null until the advised window has passed")
    automation: AutomationOut | None = Field(
        default=None, description="what the decision did by itself; null without automation"
    )


class DecisionPage(BaseModel):
    decisions: list[DecisionOut]
    count: int
    next_cursor: str | None = None


def automation_out(automation: Automation | None) -> AutomationOut | None:
    if automation is None:
        return None
    return AutomationOut(
        status=automation.status,
        command_ids=list(automation.command_ids),
        detail=automation.detail,
        recorded=iso_ms(automation.recorded_ms),
    )


def decision_out(stored: StoredDecision) -> DecisionOut:
    d, o = stored.decision, stored.outcome
    return DecisionOut(
        id=stored.id,
        home_id=d.home_id,
        decided=iso_ms(d.decided_ms),
        rule_version=d.rule_version,
        source=d.source,
        run_from=None if d.run_from_ms is None else iso_ms(d.run_from_ms),
        run_to=None if d.run_to_ms is None else iso_ms(d.run_to_ms),
        explanation=d.explanation,
        inputs=d.inputs,
        expected=d.expected,
        outcome=None
        if o is None
        else OutcomeOut(
            measured=iso_ms(o.measured_ms),
            kwh=o.kwh,
            cost_saved=o.cost_saved,
            co2_saved_g=o.co2_saved_g,
            explanation=o.explanation,
        ),
        automation=automation_out(stored.automation),
    )


def source_device(
    source: EnergySource, store: TelemetryStore, tenant_id: str
) -> tuple[Device | None, dict[str, Any]]:
    """A home's source's metering device (None for an unmetered grid) and its latest values."""
    device = (
        None
        if source.device_id is None
        else store.get_device(source.device_id, tenant_id=tenant_id)
    )
    if device is None:
        return None, {}
    values = store.latest_values([device.device_id]).get(device.device_id, [])
    return device, {v.metric: v.value for v in values}


def _home_out(home: Home, store: StoreDep, tenant_id: str) -> HomeOut:
    sources = []
    for source in home.sources:
        device, latest = source_device(source, store, tenant_id)
        sources.append(
            SourceStatusOut(
                kind=source.kind,
                device_id=source.device_id,
                capacity_kwh=source.capacity_kwh,
                status="unknown" if device is None else device.state.value,
                latest=latest,
            )
        )
    return HomeOut(
        home_id=home.home_id,
        tz=home.tz,
        sources=sources,
        load_device_id=home.load_device_id,
        flexible_device_id=home.flexible_device_id,
        preferences=PreferencesIn(
            **{k: getattr(home.preferences, k) for k in PreferencesIn.model_fields}
        ),
    )


def _known_home(intelligence: IntelligenceDep, tenant_id: str, home_id: str) -> Home:
    home = intelligence.get_home(tenant_id, home_id)
    if home is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"home {home_id!r} does not exist")
    return home


@router.get("/api/v1/homes", dependencies=[require(Role.VIEWER)], responses=NOT_OFFERED)
def list_homes(
    principal: PrincipalDep, store: StoreDep, intelligence: IntelligenceDep
) -> list[HomeOut]:
    """The tenant's homes with each energy source's current status."""
    return [
        _home_out(h, store, principal.tenant_id)
        for h in intelligence.list_homes(principal.tenant_id)
    ]


@router.get(
    "/api/v1/homes/{home_id}",
    dependencies=[require(Role.VIEWER)],
    responses={
        501: {"description": "no intelligence services in this process"},
        404: {"description": "no such home"},
    },
)
def get_home(
    home_id: HomeId, principal: PrincipalDep, store: StoreDep, intelligence: IntelligenceDep
) -> HomeOut:
    return _home_out(
        _known_home(intelligence, principal.tenant_id, home_id), store, principal.tenant_id
    )


@router.put(
    "/api/v1/homes/{home_id}",
    dependencies=[require(Role.ADMIN)],
    responses={
        501: {"description": "no intelligence services in this process"},
        404: {"description": "a named device is not the tenant's"},
    },
)
def put_home(
    home_id: HomeId,
    body: HomeIn,
    principal: PrincipalDep,
    store: StoreDep,
    intelligence: IntelligenceDep,
) -> HomeOut:
    """Create or replace a home: its sources, meters and preferences."""
    named = [s.device_id for s in body.sources] + [body.load_device_id, body.flexible_device_id]
    for device_id in {d for d in named if d is not None}:
        if store.get_device(device_id, tenant_id=principal.tenant_id) is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"device {device_id!r} is not registered"
            )
    home = Home(
        home_id=home_id,
        tz=body.tz,
        sources=tuple(EnergySource(s.kind, s.device_id, s.capacity_kwh) for s in body.sources),
        load_device_id=body.load_device_id,
        flexible_device_id=body.flexible_device_id,
        preferences=Preferences(**body.preferences.model_dump()),
    )
    intelligence.put_home(principal.tenant_id, home, time.time_ns() // 1_000_000)
    return _home_out(home, store, principal.tenant_id)


@router.post(
    "/api/v1/homes/{home_id}/decisions",
    dependencies=[require(Role.OPERATOR)],
    responses={
        501: {"description": "no intelligence services in this process"},
        404: {"description": "no such home"},
    },
)
def decide(
    home_id: HomeId, principal: PrincipalDep, intelligence: IntelligenceDep, advisor: AdvisorDep
) -> DecisionOut:
    """Ask the rules for advice now; the decision is stored with what they saw."""
    home = _known_home(intelligence, principal.tenant_id, home_id)
    return decision_out(advisor.decide(principal.tenant_id, home))


@router.get(
    "/api/v1/decisions",
    dependencies=[require(Role.VIEWER)],
    responses={
        501: {"description": "no intelligence services in this process"},
        422: {"description": "a bad filter"},
    },
)
def list_decisions(  # noqa: PLR0913, PLR0917 - the documented query parameters
    principal: PrincipalDep,
    intelligence: IntelligenceDep,
    home: Annotated[str | None, Query(max_length=64, description="one home's decisions")] = None,
    source: Annotated[
        SourceKind | None, Query(description="decisions advising this source")
    ] = None,
    since: Annotated[
        str | None, Query(description="decided at or after (ISO 8601 or epoch ms)")
    ] = None,
    until: Annotated[str | None, Query(description="decided before")] = None,
    measured: Annotated[
        bool | None, Query(description="true: with an outcome; false: waiting")
    ] = None,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_PAGE,
) -> DecisionPage:
    """The tenant's decisions, newest first: the audit trail of every recommendation."""
    where = DecisionFilter(home, source, _time(since, "since"), _time(until, "until"), measured)
    before = page_start(lambda text: decode_int("decisions", text, "decision id"), cursor)
    rows = intelligence.decisions_page(principal.tenant_id, where, before, limit + 1)
    page = rows[:limit]
    return DecisionPage(
        decisions=[decision_out(r) for r in page],
        count=len(page),
        next_cursor=encode("decisions", page[-1].id) if len(rows) > limit else None,
    )
