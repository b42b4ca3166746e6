"""Anomaly findings, homes and decisions in SQL; every query filtered by tenant."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, and_, func, insert, select, update
from sqlalchemy.sql.elements import ColumnElement

from wattline.model.decisions import (
    Automation,
    Decision,
    EnergySource,
    Home,
    Outcome,
    Preferences,
    Priority,
    SourceKind,
    StoredDecision,
)
from wattline.model.findings import AnomalyKind, Finding, StoredFinding
from wattline.storage import schema
from wattline.storage.intelligence_schema import anomaly_findings, energy_decisions, energy_homes
from wattline.storage.sql.connections import Connections

F = anomaly_findings.c
D = energy_decisions.c


@dataclass(frozen=True, slots=True)
class FindingFilter:
    device_id: str | None = None
    kind: AnomalyKind | None = None
    since_ms: int | None = None  # findings ending after this
    until_ms: int | None = None  # findings starting before this


@dataclass(frozen=True, slots=True)
class DecisionFilter:
    home_id: str | None = None
    source: SourceKind | None = None
    since_ms: int | None = None  # decided at or after
    until_ms: int | None = None  # decided before
    measured: bool | None = None  # with an outcome (True), still waiting (False)
    applied: bool | None = None  # automation acted on it (True), or not (False)
    with_window: bool | None = None  # advises a window for the flexible load (True), or not


def home_to_json(home: Home) -> str:
    document = asdict(home)
    document.pop("home_id")
    return json.dumps(document, sort_keys=True)


def home_from_json(home_id: str, text: str) -> Home:
    document: dict[str, Any] = json.loads(text)
    prefs = dict(document.get("preferences", {}))
    prefs["priority"] = Priority(prefs.get("priority", Priority.COST))
    return Home(
        home_id=home_id,
        tz=document.get("tz", "UTC"),
        sources=tuple(
            EnergySource(SourceKind(s["kind"]), s.get("device_id"), s.get("capacity_kwh"))
            for s in document.get("sources", [])
        ),
        load_device_id=document.get("load_device_id"),
        flexible_device_id=document.get("flexible_device_id"),
        preferences=Preferences(**prefs),
    )


def _finding(row: Any) -> StoredFinding:
    return StoredFinding(
        id=row.id,
        tenant_id=row.tenant_id,
        found_ms=row.found_ms,
        finding=Finding(
            device_id=row.device_id,
            kind=AnomalyKind(row.kind),
            start_ms=row.start_ms,
            end_ms=row.end_ms,
            score=row.score,
            observed=row.observed,
            expected_low=row.expected_low,
            expected_high=row.expected_high,
            unit=row.unit,
            explanation=row.explanation,
            metric=row.metric,
            detector_version=row.detector_version,
        ),
    )


def _decision(row: Any) -> StoredDecision:
    outcome = None
    if row.outcome is not None:
        outcome = Outcome(**json.loads(row.outcome))
    return StoredDecision(
        id=row.id,
        tenant_id=row.tenant_id,
        decision=Decision(
            home_id=row.home_id,
            decided_ms=row.decided_ms,
            rule_version=row.rule_version,
            source=SourceKind(row.source),
            run_from_ms=row.run_from_ms,
            run_to_ms=row.run_to_ms,
            explanation=row.explanation,
            inputs=json.loads(row.inputs),
            expected=json.loads(row.expected),
        ),
        outcome=outcome,
        automation=None if row.automation is None else _automation(row.automation),
    )


def _automation(text: str) -> Automation:
    document = json.loads(text)
    document["command_ids"] = tuple(document["command_ids"])
    return Automation(**document)


class SqlIntelligence:
    """Findings, homes and decisions, each call within one tenant."""

    def __init__(self, engine: Engine) -> None:
        self._connections = Connections(engine)

    def tenant_devices(self) -> list[tuple[str, str]]:
        """Every (tenant, device): what the scheduled detector walks."""
        d = schema.devices.c
        with self._connections.read() as conn:
            rows = conn.execute(select(d.tenant_id, d.device_id).order_by(d.tenant_id, d.device_id))
            return [(row.tenant_id, row.device_id) for row in rows]

    def record_findings(self, tenant_id: str, findings: Sequence[Finding], found_ms: int) -> int:
        """Store findings; one found again (same device, kind and start) is updated. New ones."""
        added = 0
        with self._connections.write() as conn:
            for finding in findings:
                values = {
                    **asdict(finding),
                    "kind": finding.kind.value,
                    "tenant_id": tenant_id,
                    "found_ms": found_ms,
                }
                key = and_(
                    F.tenant_id == tenant_id,
                    F.device_id == finding.device_id,
                    F.kind == finding.kind.value,
                    F.start_ms == finding.start_ms,
                )
                if conn.execute(update(anomaly_findings).where(key).values(values)).rowcount:
                    continue
                conn.execute(insert(anomaly_findings).values(values))
                added += 1
        return added

    def findings_page(
        self, tenant_id: str, where: FindingFilter, before_id: int | None, limit: int
    ) -> list[StoredFinding]:
        """Newest first (by id); ``before_id`` continues a page."""
        conditions: list[ColumnElement[bool]] = [F.tenant_id == tenant_id]
        if where.device_id is not None:
            conditions.append(F.device_id == where.device_id)
        if where.kind is not None:
            conditions.append(F.kind == where.kind.value)
        if where.since_ms is not None:
            conditions.append(F.end_ms > where.since_ms)
        if where.until_ms is not None:
            conditions.append(F.start_ms < where.until_ms)
        if before_id is not None:
            conditions.append(F.id < before_id)
        query = select(anomaly_findings).where(*conditions).order_by(F.id.desc()).limit(limit)
        with self._connections.read() as conn:
            return [_finding(row) for row in conn.execute(query)]

    def put_home(self, tenant_id: str, home: Home, now_ms: int) -> bool:
        """Create or replace the home; True when it is new."""
        h = energy_homes.c
        key = and_(h.tenant_id == tenant_id, h.home_id == home.home_id)
        values = {"document": home_to_json(home), "updated_ms": now_ms}
        with self._connections.write() as conn:
            if conn.execute(update(energy_homes).where(key).values(values)).rowcount:
                return False
            conn.execute(
                insert(energy_homes).values(tenant_id=tenant_id, home_id=home.home_id, **values)
            )
        return True

    def get_home(self, tenant_id: str, home_id: str) -> Home | None:
        h = energy_homes.c
        query = select(h.document).where(h.tenant_id == tenant_id, h.home_id == home_id)
        with self._connections.read() as conn:
            text = conn.scalar(query)
        return None if text is None else home_from_json(home_id, text)

    def list_homes(self, tenant_id: str) -> list[Home]:
        h = energy_homes.c
        query = select(h.home_id, h.document).where(h.tenant_id == tenant_id).order_by(h.home_id)
        with self._connections.read() as conn:
            return [home_from_json(row.home_id, row.document) for row in conn.execute(query)]

    def record_decision(self, tenant_id: str, decision: Decision) -> int:
        values = {
            "tenant_id": tenant_id,
            "home_id": decision.home_id,
            "decided_ms": decision.decided_ms,
            "rule_version": decision.rule_version,
            "source": decision.source.value,
            "run_from_ms": decision.run_from_ms,
            "run_to_ms": decision.run_to_ms,
            "explanation": decision.explanation,
            "inputs": json.dumps(decision.inputs, sort_keys=True),
            "expected": json.dumps(decision.expected, sort_keys=True),
        }
        with self._connections.write() as conn:
            result = conn.execute(insert(energy_decisions).values(values))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def decisions_page(
        self, tenant_id: str, where: DecisionFilter, before_id: int | None, limit: int
    ) -> list[StoredDecision]:
        """Newest first (by id); ``before_id`` continues a page."""
        conditions = _decision_conditions(tenant_id, where)
        if before_id is not None:
            conditions.append(D.id < before_id)
        query = select(energy_decisions).where(*conditions).order_by(D.id.desc()).limit(limit)
        with self._connections.read() as conn:
            return [_decision(row) for row in conn.execute(query)]

    def count_decisions(self, tenant_id: str, where: DecisionFilter) -> int:
        """How many decisions match: the seed's ``count`` of a page."""
        query = select(func.count()).select_from(energy_decisions)
        with self._connections.read() as conn:
            return int(conn.scalar(query.where(*_decision_conditions(tenant_id, where))) or 0)

    def get_decision(self, tenant_id: str, decision_id: int) -> StoredDecision | None:
        query = select(energy_decisions).where(D.tenant_id == tenant_id, D.id == decision_id)
        with self._connections.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else _decision(row)

    def set_automation(self, tenant_id: str, decision_id: int, automation: Automation) -> bool:
        """Record what the decision's automation did (or its commands' final state)."""
        key = and_(D.tenant_id == tenant_id, D.id == decision_id)
        document = asdict(automation)
        document["command_ids"] = list(automation.command_ids)
        values = {
            "automation": json.dumps(document, sort_keys=True),
            "applied": automation.applied,
        }
        with self._connections.write() as conn:
            return bool(conn.execute(update(energy_decisions).where(key).values(values)).rowcount)

    def decisions_to_measure(self, now_ms: int, limit: int) -> list[StoredDecision]:
        """Decisions of every tenant whose window has ended and that have no outcome yet."""
        query = (
            select(energy_decisions)
            .where(D.outcome_ms.is_(None), D.run_to_ms.is_not(None), D.run_to_ms <= now_ms)
            .order_by(D.id)
            .limit(limit)
        )
        with self._connections.read() as conn:
            return [_decision(row) for row in conn.execute(query)]

    def set_outcome(self, tenant_id: str, decision_id: int, outcome: Outcome) -> bool:
        key = and_(D.tenant_id == tenant_id, D.id == decision_id)
        values = {
            "outcome": json.dumps(asdict(outcome), sort_keys=True),
            "outcome_ms": outcome.measured_ms,
        }
        with self._connections.write() as conn:
            return bool(conn.execute(update(energy_decisions).where(key).values(values)).rowcount)


def _decision_conditions(tenant_id: str, where: DecisionFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [D.tenant_id == tenant_id]
    if where.home_id is not None:
        conditions.append(D.home_id == where.home_id)
    if where.source is not None:
        conditions.append(D.source == where.source.value)
    if where.since_ms is not None:
        conditions.append(D.decided_ms >= where.since_ms)
    if where.until_ms is not None:
        conditions.append(D.decided_ms < where.until_ms)
    if where.measured is not None:
        conditions.append(D.outcome_ms.is_not(None) if where.measured else D.outcome_ms.is_(None))
    if where.applied is not None:
        conditions.append(D.applied.is_(True) if where.applied else D.applied.is_not(True))
    if where.with_window is not None:
        conditions.append(
            D.run_from_ms.is_not(None) if where.with_window else D.run_from_ms.is_(None)
        )
    return conditions
