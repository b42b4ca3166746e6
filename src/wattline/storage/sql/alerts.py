"""Alert rules (versioned), the evaluator's per-(rule, device) state, and alerts.

Every call names its tenant, except the evaluator's own reads (``enabled_rules``,
``load_states``, ``device_scopes``), which see every tenant: it evaluates them all.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from wattline.model.alerts import (
    Alert,
    AlertComment,
    AlertOrigin,
    AlertStatus,
    ChangeKind,
    Rule,
    RuleKind,
    ScopeKind,
    Severity,
)
from wattline.storage import alert_schema, schema
from wattline.storage.sql.connections import Connections, InsertFactory

_rules = alert_schema.alert_rules
_versions = alert_schema.alert_rule_versions
_state = alert_schema.alert_rule_state
_alerts = alert_schema.alerts
_comments = alert_schema.alert_comments


@dataclass(frozen=True, slots=True)
class AlertFilter:
    status: AlertStatus | None = None
    severity: Severity | None = None
    device_id: str | None = None
    rule_id: str | None = None
    acknowledged: bool | None = None
    since_ms: int | None = None  # first seen at or after
    until_ms: int | None = None  # first seen before


@dataclass(frozen=True, slots=True)
class SavedState:
    rule_id: str
    device_id: str
    tenant_id: str
    rule_version: int
    state: dict[str, Any]


def new_id() -> str:
    return uuid.uuid4().hex


def _open_key(rule_id: str, device_id: str) -> str:
    return f"{rule_id}/{device_id}"


def rule_from_row(row: Any) -> Rule:
    return Rule(
        rule_id=row.rule_id,
        tenant_id=row.tenant_id,
        name=row.name,
        kind=RuleKind(row.kind),
        severity=Severity(row.severity),
        scope=ScopeKind(row.scope),
        scope_value=row.scope_value,
        metric=row.metric,
        params=orjson.loads(row.params),
        enabled=bool(row.enabled),
        version=row.version,
        created_ms=row.created_ms,
        updated_ms=row.updated_ms,
    )


def _rule_values(rule: Rule) -> dict[str, Any]:
    return {
        "tenant_id": rule.tenant_id,
        "name": rule.name,
        "kind": rule.kind.value,
        "severity": rule.severity.value,
        "scope": rule.scope.value,
        "scope_value": rule.scope_value,
        "metric": rule.metric,
        "params": orjson.dumps(dict(rule.params)).decode(),
        "enabled": rule.enabled,
        "version": rule.version,
        "created_ms": rule.created_ms,
        "updated_ms": rule.updated_ms,
    }


def alert_from_row(row: Any) -> Alert:
    return Alert(
        alert_id=row.alert_id,
        tenant_id=row.tenant_id,
        rule_id=row.rule_id,
        rule_name=row.rule_name,
        device_id=row.device_id,
        severity=Severity(row.severity),
        status=AlertStatus(row.status),
        value=row.value,
        message=row.message,
        first_seen_ms=row.first_seen_ms,
        last_seen_ms=row.last_seen_ms,
        occurrences=row.occurrences,
        acknowledged_by=row.acknowledged_by,
        acknowledged_ms=row.acknowledged_ms,
        cleared_ms=row.cleared_ms,
        cleared_by=row.cleared_by,
        last_change=row.last_change,
        changed_ms=row.changed_ms,
    )


def _changed(kind: ChangeKind, now_ms: int) -> dict[str, Any]:
    return {"last_change": kind.value, "changed_ms": now_ms}


class SqlAlerts:
    def __init__(self, connections: Connections, insert_factory: InsertFactory) -> None:
        self._connections = connections
        self._insert = insert_factory

    # -- rules ----------------------------------------------------------------

    def save_rule(self, rule: Rule, *, saved_by: str) -> Rule:
        """Create the rule (version 1) or replace it with the next version; the
        stored rule. KeyError when an update names no rule of the tenant."""
        with self._connections.write() as conn:
            current = conn.scalar(
                select(_rules.c.version).where(
                    _rules.c.rule_id == rule.rule_id,
                    _rules.c.tenant_id == rule.tenant_id,
                    _rules.c.deleted.is_(False),
                )
            )
            if current is None:
                rule = replace(rule, version=1)
                conn.execute(insert(_rules).values(rule_id=rule.rule_id, **_rule_values(rule)))
            else:
                rule = replace(rule, version=current + 1)
                values = _rule_values(rule)
                del values["created_ms"]
                conn.execute(
                    update(_rules).where(_rules.c.rule_id == rule.rule_id).values(**values)
                )
            definition = _rule_values(rule) | {"rule_id": rule.rule_id, "params": dict(rule.params)}
            conn.execute(
                insert(_versions).values(
                    rule_id=rule.rule_id,
                    version=rule.version,
                    tenant_id=rule.tenant_id,
                    definition=orjson.dumps(definition).decode(),
                    saved_by=saved_by,
                    saved_ms=rule.updated_ms,
                )
            )
        return self.get_rule(rule.rule_id, tenant_id=rule.tenant_id) or rule

    def get_rule(self, rule_id: str, *, tenant_id: str) -> Rule | None:
        with self._connections.read() as conn:
            row = conn.execute(
                select(_rules).where(
                    _rules.c.rule_id == rule_id,
                    _rules.c.tenant_id == tenant_id,
                    _rules.c.deleted.is_(False),
                )
            ).first()
        return rule_from_row(row) if row else None

    def list_rules(self, *, tenant_id: str) -> list[Rule]:
        query = (
            select(_rules)
            .where(_rules.c.tenant_id == tenant_id, _rules.c.deleted.is_(False))
            .order_by(_rules.c.name, _rules.c.rule_id)
        )
        with self._connections.read() as conn:
            return [rule_from_row(row) for row in conn.execute(query)]

    def rule_versions(self, rule_id: str, *, tenant_id: str) -> list[dict[str, Any]]:
        v = _versions.c
        query = (
            select(v.version, v.definition, v.saved_by, v.saved_ms)
            .where(v.rule_id == rule_id, v.tenant_id == tenant_id)
            .order_by(v.version)
        )
        with self._connections.read() as conn:
            return [
                {
                    "version": row.version,
                    "definition": orjson.loads(row.definition),
                    "saved_by": row.saved_by,
                    "saved_ms": row.saved_ms,
                }
                for row in conn.execute(query)
            ]

    def delete_rule(self, rule_id: str, *, tenant_id: str, now_ms: int) -> bool:
        """Retire the rule (its versions and alerts stay as history); False when unknown."""
        with self._connections.write() as conn:
            done = conn.execute(
                update(_rules)
                .where(
                    _rules.c.rule_id == rule_id,
                    _rules.c.tenant_id == tenant_id,
                    _rules.c.deleted.is_(False),
                )
                .values(deleted=True, enabled=False, updated_ms=now_ms)
            )
            conn.execute(_state.delete().where(_state.c.rule_id == rule_id))
        return bool(done.rowcount)

    def enabled_rules(self) -> list[Rule]:
        """Every tenant's enabled rules: what the evaluator runs."""
        query = select(_rules).where(_rules.c.enabled.is_(True), _rules.c.deleted.is_(False))
        with self._connections.read() as conn:
            return [rule_from_row(row) for row in conn.execute(query)]

    def rules_stamp(self) -> tuple[int, int]:
        """Changes whenever any rule is saved or retired: the evaluator's cache key."""
        with self._connections.read() as conn:
            row = conn.execute(
                select(func.count(), func.coalesce(func.max(_rules.c.updated_ms), 0))
            ).one()
        return int(row[0]), int(row[1])

    def device_scopes(
        self, device_ids: Iterable[str]
    ) -> dict[str, tuple[str, str | None, tuple[str, ...]]]:
        """device id -> (tenant, type, tags), for the devices that exist."""
        d = schema.devices.c
        ids = list(set(device_ids))
        found: dict[str, tuple[str, str | None, tuple[str, ...]]] = {}
        with self._connections.read() as conn:
            for start in range(0, len(ids), 500):
                query = select(d.device_id, d.tenant_id, d.device_type, d.tags).where(
                    d.device_id.in_(ids[start : start + 500])
                )
                for row in conn.execute(query):
                    found[row.device_id] = (
                        row.tenant_id,
                        row.device_type,
                        tuple(orjson.loads(row.tags or "[]")),
                    )
        return found

    def scoped_devices(self, rule: Rule, *, limit: int) -> tuple[list[str], int]:
        """The first ``limit`` devices of the rule's tenant it applies to (by id),
        and how many it applies to in all; the rule counts as enabled."""
        d = schema.devices.c
        query = select(d.device_id, d.device_type, d.tags).where(d.tenant_id == rule.tenant_id)
        if rule.scope is ScopeKind.DEVICE:
            query = query.where(d.device_id == rule.scope_value)
        elif rule.scope is ScopeKind.TYPE:
            query = query.where(d.device_type == rule.scope_value)
        enabled = replace(rule, enabled=True)
        with self._connections.read() as conn:
            found = [
                row.device_id
                for row in conn.execute(query.order_by(d.device_id))
                if enabled.applies_to(
                    row.device_id, row.device_type, tuple(orjson.loads(row.tags or "[]"))
                )
            ]
        return found[:limit], len(found)

    def tenant_devices(self, tenant_id: str) -> list[str]:
        d = schema.devices.c
        with self._connections.read() as conn:
            return list(conn.scalars(select(d.device_id).where(d.tenant_id == tenant_id)))

    # -- rule state -------------------------------------------------------------

    def load_states(self) -> list[SavedState]:
        with self._connections.read() as conn:
            return [
                SavedState(
                    row.rule_id,
                    row.device_id,
                    row.tenant_id,
                    row.rule_version,
                    orjson.loads(row.state),
                )
                for row in conn.execute(select(_state))
            ]

    def save_states(self, states: Sequence[SavedState], now_ms: int) -> None:
        if not states:
            return
        with self._connections.write() as conn:
            self._save_states(conn, states, now_ms)

    def _save_states(self, conn: Any, states: Sequence[SavedState], now_ms: int) -> None:
        if not states:
            return
        rows = [
            {
                "rule_id": saved.rule_id,
                "device_id": saved.device_id,
                "tenant_id": saved.tenant_id,
                "rule_version": saved.rule_version,
                "state": orjson.dumps(saved.state).decode(),
                "updated_ms": now_ms,
            }
            for saved in states
        ]
        statement = self._insert(_state)
        excluded = statement.excluded
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["rule_id", "device_id"],
                set_={
                    "tenant_id": excluded.tenant_id,
                    "rule_version": excluded.rule_version,
                    "state": excluded.state,
                    "updated_ms": excluded.updated_ms,
                },
            ),
            rows,
        )

    # -- alerts -----------------------------------------------------------------

    def raise_alert(  # noqa: PLR0913 - the alert's fields
        self,
        rule: AlertOrigin,
        device_id: str,
        *,
        value: float | None,
        message: str,
        now_ms: int,
        states: Sequence[SavedState] = (),
    ) -> tuple[Alert, bool]:
        """Open the (rule, device) alert, or count one more occurrence of the open one;
        (the alert, True when it was opened now). ``states`` are saved in the same
        transaction, so the state and the alert never disagree after a crash."""
        key = _open_key(rule.rule_id, device_id)
        alert_id = new_id()
        try:
            with self._connections.write() as conn:
                conn.execute(
                    insert(_alerts).values(
                        alert_id=alert_id,
                        tenant_id=rule.tenant_id,
                        rule_id=rule.rule_id,
                        rule_name=rule.name,
                        device_id=device_id,
                        severity=rule.severity.value,
                        status=AlertStatus.ACTIVE.value,
                        value=value,
                        message=message,
                        first_seen_ms=now_ms,
                        last_seen_ms=now_ms,
                        occurrences=1,
                        open_key=key,
                        **_changed(ChangeKind.RAISED, now_ms),
                    )
                )
                self._save_states(conn, states, now_ms)
        except IntegrityError:
            return self.repeat_alert(
                rule, device_id, value=value, message=message, now_ms=now_ms, states=states
            ), False
        found = self.get_alert(alert_id, tenant_id=rule.tenant_id)
        assert found is not None
        return found, True

    def repeat_alert(  # noqa: PLR0913 - the alert's fields
        self,
        rule: AlertOrigin,
        device_id: str,
        *,
        value: float | None,
        message: str,
        now_ms: int,
        states: Sequence[SavedState] = (),
    ) -> Alert:
        key = _open_key(rule.rule_id, device_id)
        with self._connections.write() as conn:
            conn.execute(
                update(_alerts)
                .where(_alerts.c.open_key == key)
                .values(
                    occurrences=_alerts.c.occurrences + 1,
                    last_seen_ms=now_ms,
                    value=value,
                    message=message,
                    **_changed(ChangeKind.REPEATED, now_ms),
                )
            )
            self._save_states(conn, states, now_ms)
            row = conn.execute(select(_alerts).where(_alerts.c.open_key == key)).first()
        if row is None:  # cleared by hand meanwhile: open a new one
            return self.raise_alert(
                rule, device_id, value=value, message=message, now_ms=now_ms, states=states
            )[0]
        return alert_from_row(row)

    def clear_open(
        self, rule_id: str, device_id: str, *, now_ms: int, states: Sequence[SavedState] = ()
    ) -> Alert | None:
        """Clear the (rule, device) alert the evaluator opened; None when none is open."""
        key = _open_key(rule_id, device_id)
        with self._connections.write() as conn:
            row = conn.execute(select(_alerts).where(_alerts.c.open_key == key)).first()
            if row is not None:
                conn.execute(
                    update(_alerts)
                    .where(_alerts.c.alert_id == row.alert_id)
                    .values(
                        status=AlertStatus.CLEARED.value,
                        cleared_ms=now_ms,
                        open_key=None,
                        **_changed(ChangeKind.CLEARED, now_ms),
                    )
                )
            self._save_states(conn, states, now_ms)
        if row is None:
            return None
        return self.get_alert(row.alert_id, tenant_id=row.tenant_id)

    def open_alert_keys(self) -> set[tuple[str, str]]:
        """(rule, device) of every open alert: the evaluator's view after a restart."""
        with self._connections.read() as conn:
            rows = conn.execute(
                select(_alerts.c.rule_id, _alerts.c.device_id).where(
                    _alerts.c.open_key.is_not(None)
                )
            )
            return {(row.rule_id, row.device_id) for row in rows}

    def get_alert(self, alert_id: str, *, tenant_id: str) -> Alert | None:
        with self._connections.read() as conn:
            row = conn.execute(
                select(_alerts).where(
                    _alerts.c.alert_id == alert_id, _alerts.c.tenant_id == tenant_id
                )
            ).first()
        return alert_from_row(row) if row else None

    def acknowledge(self, alert_id: str, *, tenant_id: str, by: str, now_ms: int) -> Alert | None:
        """Acknowledge (a second acknowledgement keeps the first); None when unknown."""
        with self._connections.write() as conn:
            conn.execute(
                update(_alerts)
                .where(
                    _alerts.c.alert_id == alert_id,
                    _alerts.c.tenant_id == tenant_id,
                    _alerts.c.acknowledged_ms.is_(None),
                )
                .values(
                    acknowledged_by=by,
                    acknowledged_ms=now_ms,
                    **_changed(ChangeKind.ACKNOWLEDGED, now_ms),
                )
            )
        return self.get_alert(alert_id, tenant_id=tenant_id)

    def clear_by_hand(self, alert_id: str, *, tenant_id: str, by: str, now_ms: int) -> Alert | None:
        with self._connections.write() as conn:
            conn.execute(
                update(_alerts)
                .where(
                    _alerts.c.alert_id == alert_id,
                    _alerts.c.tenant_id == tenant_id,
                    _alerts.c.status == AlertStatus.ACTIVE.value,
                )
                .values(
                    status=AlertStatus.CLEARED.value,
                    cleared_ms=now_ms,
                    cleared_by=by,
                    open_key=None,
                    **_changed(ChangeKind.CLEARED, now_ms),
                )
            )
        return self.get_alert(alert_id, tenant_id=tenant_id)

    def add_comment(self, comment: AlertComment, *, tenant_id: str) -> bool:
        with self._connections.write() as conn:
            owned = conn.scalar(
                select(func.count()).where(
                    _alerts.c.alert_id == comment.alert_id, _alerts.c.tenant_id == tenant_id
                )
            )
            if not owned:
                return False
            conn.execute(
                insert(_comments).values(
                    alert_id=comment.alert_id,
                    tenant_id=tenant_id,
                    author=comment.author,
                    text=comment.text,
                    ts_ms=comment.ts_ms,
                )
            )
            conn.execute(
                update(_alerts)
                .where(_alerts.c.alert_id == comment.alert_id, _alerts.c.tenant_id == tenant_id)
                .values(**_changed(ChangeKind.COMMENTED, comment.ts_ms))
            )
        return True

    def comments(self, alert_id: str, *, tenant_id: str) -> list[AlertComment]:
        c = _comments.c
        query = (
            select(c.alert_id, c.author, c.text, c.ts_ms)
            .where(c.alert_id == alert_id, c.tenant_id == tenant_id)
            .order_by(c.comment_id)
        )
        with self._connections.read() as conn:
            return [
                AlertComment(r.alert_id, r.author, r.text, r.ts_ms) for r in conn.execute(query)
            ]

    def alert_page(
        self,
        *,
        tenant_id: str,
        where: AlertFilter,
        after: tuple[int, str] | None,
        limit: int,
    ) -> list[Alert]:
        """Newest first by (first seen, id); ``after`` is the last key of the previous page."""
        a = _alerts.c
        conditions: list[ColumnElement[bool]] = [a.tenant_id == tenant_id]
        if where.status is not None:
            conditions.append(a.status == where.status.value)
        if where.severity is not None:
            conditions.append(a.severity == where.severity.value)
        if where.device_id is not None:
            conditions.append(a.device_id == where.device_id)
        if where.rule_id is not None:
            conditions.append(a.rule_id == where.rule_id)
        if where.acknowledged is not None:
            conditions.append(
                a.acknowledged_ms.is_not(None)
                if where.acknowledged
                else a.acknowledged_ms.is_(None)
            )
        if where.since_ms is not None:
            conditions.append(a.first_seen_ms >= where.since_ms)
        if where.until_ms is not None:
            conditions.append(a.first_seen_ms < where.until_ms)
        if after is not None:
            conditions.append(
                or_(
                    a.first_seen_ms < after[0],
                    and_(a.first_seen_ms == after[0], a.alert_id < after[1]),
                )
            )
        query = (
            select(_alerts)
            .where(*conditions)
            .order_by(a.first_seen_ms.desc(), a.alert_id.desc())
            .limit(limit)
        )
        with self._connections.read() as conn:
            return [alert_from_row(row) for row in conn.execute(query)]

    def changed_since(
        self,
        *,
        tenant_id: str,
        since_ms: int,
        until_ms: int,
        device_ids: Sequence[str] | None,
        limit: int,
    ) -> list[Alert]:
        """The tenant's alerts whose latest change is in (``since_ms``, ``until_ms``],
        oldest change first (then by id), at most ``limit``; only those of
        ``device_ids`` unless None. What a reconnecting live-stream client missed."""
        a = _alerts.c
        conditions: list[ColumnElement[bool]] = [
            a.tenant_id == tenant_id,
            a.changed_ms > since_ms,
            a.changed_ms <= until_ms,
        ]
        if device_ids is not None:
            if not device_ids:
                return []
            conditions.append(a.device_id.in_(list(device_ids)))
        query = select(_alerts).where(*conditions).order_by(a.changed_ms, a.alert_id).limit(limit)
        with self._connections.read() as conn:
            return [alert_from_row(row) for row in conn.execute(query)]

    def summary(self, *, tenant_id: str) -> dict[str, dict[str, int]]:
        """Active alerts by severity: all of them, and those nobody acknowledged yet."""
        a = _alerts.c
        query = (
            select(a.severity, (a.acknowledged_ms.is_not(None)).label("acked"), func.count())
            .where(a.tenant_id == tenant_id, a.status == AlertStatus.ACTIVE.value)
            .group_by(a.severity, "acked")
        )
        active = dict.fromkeys((s.value for s in Severity), 0)
        unacknowledged = dict.fromkeys((s.value for s in Severity), 0)
        with self._connections.read() as conn:
            for severity, acked, count in conn.execute(query):
                active[severity] += count
                if not acked:
                    unacknowledged[severity] += count
        return {"active": active, "unacknowledged": unacknowledged}
