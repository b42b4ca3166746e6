"""Homes, their energy sources and preferences, and the recommendations made for them.

The HyperVolt seed's ``EnergySource``, ``UserPreferences`` and ``AIDecision``: a
decision keeps the inputs as seen when it was made, the version of the rules that
made it, the advice and why, and later the outcome measured against doing nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class SourceKind(StrEnum):
    GRID = "grid"
    SOLAR = "solar"
    BATTERY = "battery"


class Priority(StrEnum):
    COST = "cost"
    CARBON = "carbon"
    COMFORT = "comfort"


@dataclass(frozen=True, slots=True)
class EnergySource:
    """A source of a home, read from one device's latest values."""

    kind: SourceKind
    device_id: str | None = None  # None: the grid without a meter
    capacity_kwh: float | None = None  # a battery's usable capacity


@dataclass(frozen=True, slots=True)
class Preferences:
    priority: Priority = Priority.COST
    # a battery is not discharged below this state of charge
    battery_reserve_pct: float = 20.0
    # grid energy at or above this price (per kWh) or intensity is "expensive" / "dirty"
    expensive_per_kwh: float = 0.30
    high_carbon_g_per_kwh: float = 250.0
    # local hours [start, end) in which no flexible load is started (e.g. 22 to 7)
    quiet_from_h: int | None = None
    quiet_to_h: int | None = None
    # the flexible load the advice is about: how long it runs and what it draws
    flexible_load_h: int = 2
    flexible_load_kw: float = 1.0
    # allow the advice to act: switch the flexible plug on for the advised window
    automation: bool = False


@dataclass(frozen=True, slots=True)
class Home:
    home_id: str
    tz: str = "UTC"
    sources: tuple[EnergySource, ...] = ()
    load_device_id: str | None = None  # the meter of the home's consumption
    flexible_device_id: str | None = None  # the plug the flexible-load advice is about
    preferences: Preferences = field(default_factory=Preferences)


@dataclass(frozen=True, slots=True)
class Decision:
    home_id: str
    decided_ms: int
    rule_version: str
    source: SourceKind  # which source to draw from now
    run_from_ms: int | None  # when to run the flexible load; None: not today
    run_to_ms: int | None
    explanation: str
    inputs: dict[str, object]
    expected: dict[str, float]  # the saving the rules expect against running now


@dataclass(frozen=True, slots=True)
class Outcome:
    """Measured after the recommended window: what following the advice saved."""

    measured_ms: int
    kwh: float
    cost_saved: float
    co2_saved_g: float
    explanation: str


@dataclass(frozen=True, slots=True)
class Automation:
    """What a decision did on its own because the home allows automation: the commands it
    issued (switch the flexible plug on at the window's start, off at its end), or why none.

    ``status`` is ``issued`` with the command ids, ``refused`` with the command
    service's reason (a relay limit, an unknown device), or the switch-on command's
    final state (``succeeded``, ``failed``, ...) once the outcome is measured.
    """

    status: str
    command_ids: tuple[str, ...]
    detail: str
    recorded_ms: int

    @property
    def applied(self) -> bool:
        """The seed's ``applied``: the advice was acted on (its commands were queued)."""
        return bool(self.command_ids) and self.status not in UNAPPLIED


# A command that never reached the plug: the advice was not applied.
UNAPPLIED = frozenset({"refused", "failed", "rejected", "expired", "cancelled"})


@dataclass(frozen=True, slots=True)
class StoredDecision:
    id: int
    tenant_id: str
    decision: Decision
    outcome: Outcome | None
    automation: Automation | None = None
