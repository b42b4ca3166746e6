"""A decision for a home that allows automation switches its plug through the command
service (SQLite and PostgreSQL): relay_on held until the advised window, relay_off at
its end, both recorded in the decision log, and the switch's final state recorded when
the outcome is measured."""

from __future__ import annotations

import pytest
from tests.integration.intelligence.test_intelligence_api import SIGNALS

from wattline.commands.automation import DecisionAutomation
from wattline.commands.keys import SqlCommandKeys
from wattline.commands.relay import RELAY_OFF, RELAY_ON
from wattline.commands.service import CommandService
from wattline.commands.states import CommandState
from wattline.commands.store import SqlCommandStore
from wattline.intelligence.advisor import Advisor
from wattline.model.decisions import Home, Preferences
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore
from wattline.storage.sql.intelligence import DecisionFilter, SqlIntelligence

H = 3_600_000
NOON_MS = 1_788_264_000_000  # 2026-09-01 12:00 UTC: the night's cheap hours are ahead


@pytest.fixture
def advisor(store: SqlStore) -> tuple[Advisor, CommandService, SqlIntelligence, list[int]]:
    clock = [NOON_MS]
    store.register_device("plug-1", "smartplug", NOON_MS, tenant_id=DEFAULT_TENANT)
    service = CommandService(
        SqlCommandStore(store.engine),
        SqlCommandKeys(store.engine),
        store,
        clock_ms=lambda: clock[0],
    )
    intelligence = SqlIntelligence(store.engine)
    automation = DecisionAutomation(service, intelligence, clock_ms=lambda: clock[0])
    advisor = Advisor(
        store,
        intelligence,
        SIGNALS,
        clock_ms=lambda: clock[0],
        on_decided=automation.apply,
        on_measured=automation.settle,
    )
    return advisor, service, intelligence, clock


def _home(device_id: str, *, automation: bool) -> Home:
    return Home(
        "house", flexible_device_id=device_id, preferences=Preferences(automation=automation)
    )


def test_an_automated_decision_switches_the_plug_in_its_window(
    advisor: tuple[Advisor, CommandService, SqlIntelligence, list[int]],
) -> None:
    rules, service, intelligence, clock = advisor
    decided = rules.decide(DEFAULT_TENANT, _home("plug-1", automation=True))
    decision = decided.decision
    assert decision.run_from_ms is not None
    assert decision.run_to_ms is not None
    assert decided.automation is not None
    assert decided.automation.status == "issued"
    on_id, off_id = decided.automation.command_ids
    on, off = service.get(DEFAULT_TENANT, on_id), service.get(DEFAULT_TENANT, off_id)
    assert (on.name, off.name) == (RELAY_ON, RELAY_OFF)
    assert on.issuer == off.issuer == f"decision:{decided.id}"
    assert on.state is off.state is CommandState.QUEUED
    # held back until the window: the dispatcher sends nothing before then
    assert on.next_attempt_ms == decision.run_from_ms
    assert off.next_attempt_ms == decision.run_to_ms
    # the log has it, and the seed's "applied"
    (stored,) = intelligence.decisions_page(DEFAULT_TENANT, DecisionFilter(), None, 10)
    assert stored.automation == decided.automation
    assert intelligence.count_decisions(DEFAULT_TENANT, DecisionFilter(applied=True)) == 1

    # the plug switched on (the dispatcher sent it, the plug acknowledged), and the window passed
    sent = service.move(on, CommandState.SENT)
    assert sent is not None
    assert service.move(sent, CommandState.SUCCEEDED, "relay on") is not None
    clock[0] = decision.run_to_ms + H
    assert rules.measure_outcomes(clock[0]) == 1
    settled = intelligence.get_decision(DEFAULT_TENANT, decided.id)
    assert settled is not None
    assert settled.outcome is not None
    assert settled.automation is not None
    assert settled.automation.status == "succeeded"
    assert settled.automation.command_ids == (on_id, off_id)
    assert "relay on" in settled.automation.detail


def test_a_refused_switch_is_recorded_and_not_applied(
    advisor: tuple[Advisor, CommandService, SqlIntelligence, list[int]],
) -> None:
    rules, _, intelligence, _ = advisor
    refused = rules.decide(DEFAULT_TENANT, _home("not-registered", automation=True))
    assert refused.automation is not None
    assert refused.automation.status == "refused"
    assert refused.automation.command_ids == ()
    assert "not-registered" in refused.automation.detail
    assert not refused.automation.applied
    # another tenant's plug is unknown to this tenant's automation, as to its users
    without = rules.decide(DEFAULT_TENANT, _home("plug-1", automation=False))
    assert without.automation is None
    assert intelligence.count_decisions(DEFAULT_TENANT, DecisionFilter(applied=True)) == 0
    assert intelligence.count_decisions(DEFAULT_TENANT, DecisionFilter(applied=False)) == 2
    assert intelligence.count_decisions("t2", DecisionFilter()) == 0
