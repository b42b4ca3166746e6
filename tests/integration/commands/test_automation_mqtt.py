"""An allowed automation switches a simulated plug through a real Mosquitto (both
stores): the decision queues relay_on for its window, the dispatcher signs and sends
it, the plug switches and acknowledges, and the decision's outcome, measured later,
records that the switch succeeded."""

from __future__ import annotations

import time

from tests.e2e.conftest import wait_until
from tests.integration.commands.test_commands_mqtt import Rig, rig  # noqa: F401 - the fixture
from tests.integration.intelligence.test_intelligence_api import SIGNALS

from wattline.commands.automation import DecisionAutomation
from wattline.commands.relay import RELAY_ON
from wattline.intelligence.advisor import Advisor
from wattline.model.decisions import Home, Preferences, Priority
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql.intelligence import SqlIntelligence

H = 3_600_000


def test_an_automated_decision_switches_the_simulated_plug(rig: Rig) -> None:  # noqa: F811
    rig.start()
    rig.device_online()
    rig.plug.set_relay(False)  # off before the advice: the automation must switch it on
    intelligence = SqlIntelligence(rig.store.engine)
    automation = DecisionAutomation(rig.service, intelligence)
    advisor = Advisor(
        rig.store,
        intelligence,
        SIGNALS,
        on_decided=automation.apply,
        on_measured=automation.settle,
    )
    # comfort: the flexible load runs now, so the switch-on is due at once
    home = Home(
        "house",
        flexible_device_id=rig.plug_id,
        preferences=Preferences(priority=Priority.COMFORT, automation=True),
    )
    decided = advisor.decide(DEFAULT_TENANT, home)
    assert decided.automation is not None
    assert decided.automation.status == "issued", decided.automation
    on_id = decided.automation.command_ids[0]
    wait_until(lambda: rig.detail(on_id)["state"] == "succeeded", 10, "the switch-on's ack")
    assert rig.detail(on_id)["name"] == RELAY_ON
    assert rig.plug.relay_on
    # after the window the outcome is measured and the switch's result recorded with it
    run_to_ms = decided.decision.run_to_ms
    assert run_to_ms is not None
    assert advisor.measure_outcomes(max(run_to_ms, time.time_ns() // 1_000_000) + H) == 1
    stored = intelligence.get_decision(DEFAULT_TENANT, decided.id)
    assert stored is not None
    assert stored.outcome is not None
    assert stored.automation is not None
    assert stored.automation.status == "succeeded"
    assert stored.automation.applied
