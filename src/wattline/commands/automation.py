"""Automation: a decision for a home that allows it switches the flexible plug itself.

When a home's preferences say ``automation: true`` and the advice names a window
for the flexible load, two relay commands are queued through the command
service, as a user's would be (the same device look-up, the same relay safety
limits): ``relay_on`` held back until the window starts, ``relay_off`` until it
ends. The decision log records their ids (``issued``), or the service's reason
when it refused (``refused``). When the decision's outcome is measured, the
switch-on command's final state replaces ``issued``, so the log says whether the
plug really switched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from wattline.commands.relay import RELAY_OFF, RELAY_ON
from wattline.commands.service import CommandError, CommandService
from wattline.commands.states import CommandState
from wattline.model.decisions import Automation, Home, StoredDecision
from wattline.storage.ports import IntelligenceStore

log = logging.getLogger(__name__)

ISSUED = "issued"
REFUSED = "refused"
NOTHING = "nothing_to_switch"
# A switch that could not be sent this long after its due time is stale: it expires.
GRACE_MS = 15 * 60_000


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class DecisionAutomation:
    commands: CommandService
    intelligence: IntelligenceStore
    clock_ms: Callable[[], int] = _now_ms

    def apply(self, stored: StoredDecision, home: Home) -> StoredDecision:
        """Act on a new decision when the home allows it; the decision as recorded."""
        if not home.preferences.automation:
            return stored
        automation = self._switch(stored, home)
        self.intelligence.set_automation(stored.tenant_id, stored.id, automation)
        return StoredDecision(
            stored.id, stored.tenant_id, stored.decision, stored.outcome, automation
        )

    def _switch(self, stored: StoredDecision, home: Home) -> Automation:
        decision, now_ms = stored.decision, self.clock_ms()
        device_id = home.flexible_device_id
        if device_id is None or decision.run_from_ms is None or decision.run_to_ms is None:
            why = (
                "the home names no flexible device"
                if device_id is None
                else "the advice names no window for the flexible load today"
            )
            return Automation(NOTHING, (), why, now_ms)
        issuer = f"decision:{stored.id}"
        start_ms = max(now_ms, decision.run_from_ms)
        try:
            on = self.commands.prepare(
                stored.tenant_id,
                device_id,
                RELAY_ON,
                {},
                issuer,
                start_ms + GRACE_MS,
                not_before_ms=start_ms,
            )
            off = self.commands.prepare(
                stored.tenant_id,
                device_id,
                RELAY_OFF,
                {},
                issuer,
                decision.run_to_ms + GRACE_MS,
                not_before_ms=decision.run_to_ms,
            )
        except CommandError as exc:
            log.info("decision %s: automation refused: %s", stored.id, exc)
            return Automation(REFUSED, (), str(exc), now_ms)
        self.commands.issue_many([on, off])
        detail = f"{device_id}: {RELAY_ON} at the window's start, {RELAY_OFF} at its end"
        return Automation(ISSUED, (on.command_id, off.command_id), detail, now_ms)

    def settle(self, stored: StoredDecision) -> None:
        """After the window: record the switch-on command's final state (or where it is)."""
        automation = stored.automation
        if automation is None or automation.status != ISSUED or not automation.command_ids:
            return
        try:
            on = self.commands.get(stored.tenant_id, automation.command_ids[0])
        except CommandError:
            return  # the command is gone (retention): keep what was recorded
        if on.state is CommandState.QUEUED:
            return
        settled = Automation(
            on.state.value,
            automation.command_ids,
            f"{automation.detail}; {RELAY_ON} {on.state.value}"
            + (f": {on.result}" if on.result else ""),
            self.clock_ms(),
        )
        self.intelligence.set_automation(stored.tenant_id, stored.id, settled)
