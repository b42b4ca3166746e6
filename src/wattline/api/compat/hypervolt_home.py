"""The HyperVolt seed's preferences, energy sources and AI decisions (seeds/004):
``/api/preferences/``, ``/api/energy-sources/`` and ``/api/ai-decisions/``, over the
homes and the decision log of ``/api/v1/homes`` and ``/api/v1/decisions``.

The seed kept one household: its ``UserPreferences`` rows were
``{preference_key, preference_value, description}``; its ``EnergySource`` rows
``{source_type, is_available, capacity, current_output, priority}``; its
``AIDecision`` rows ``{id, decision_type, decision, confidence, reasoning,
applied, timestamp, created_at}``. Wattline has homes: each row here names its
``home_id``, and ``?home=`` picks one (a tenant with one home needs none).
A preference is one field of the home's preferences (``automation``,
``priority``, ...); a change goes through the same validation and store as
``PUT /api/v1/homes/{id}``. Lists are DRF pages (``drf_pages.py``).
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Path, Query, Request, status
from pydantic import ValidationError

from wattline.api.compat.drf_pages import DEFAULT_PAGE_SIZE, PageParam, PageSizeParam, drf_body
from wattline.api.cursors import decode_int, encode
from wattline.api.deps import AdminFirstRoute, PrincipalDep, ServicesDep, require
from wattline.api.intelligence_deps import IntelligenceDep
from wattline.api.paging import CursorParam, page_start
from wattline.api.routers.decisions import PreferencesIn, automation_out, source_device
from wattline.api.routers.devices import connection_status
from wattline.api.services import ApiServices
from wattline.model.decisions import Home, Preferences, SourceKind, StoredDecision
from wattline.model.messages import ConnectionState
from wattline.model.times import iso_ms
from wattline.security.roles import Role
from wattline.storage.ports import IntelligenceStore
from wattline.storage.sql.intelligence import DecisionFilter

NOT_OFFERED: dict[int | str, dict[str, str]] = {
    501: {"description": "no intelligence services in this process"},
    404: {"description": "no such home, key or page"},
    400: {"description": "several homes and no home=, or a bad value"},
}
HomeParam = Annotated[
    str | None,
    Query(max_length=64, pattern=r"^[A-Za-z0-9._-]+$", description="the home (one: optional)"),
]
DESCRIPTIONS = {
    "priority": "what the advice optimises first: cost, carbon or comfort",
    "battery_reserve_pct": "a battery is not discharged below this state of charge (%)",
    "expensive_per_kwh": "grid energy at or above this price per kWh counts as expensive",
    "high_carbon_g_per_kwh": "grid intensity at or above this (gCO2eq/kWh) counts as dirty",
    "quiet_from_h": "local hour from which no flexible load is started",
    "quiet_to_h": "local hour until which no flexible load is started",
    "flexible_load_h": "how many hours the flexible load runs",
    "flexible_load_kw": "what the flexible load draws (kW)",
    "automation": "switch the flexible device on for the advised window by itself",
}
POWER = ("ac_power_w", "power_w")
# The seed's priority: higher is better. Wattline's rules draw on the sun first,
# then the battery down to its reserve, then the grid (analytics/recommendations.py).
PRIORITIES = {SourceKind.SOLAR: 3, SourceKind.BATTERY: 2, SourceKind.GRID: 1}

preferences = APIRouter(
    prefix="/api/preferences", tags=["compat: HyperVolt"], route_class=AdminFirstRoute
)
sources = APIRouter(
    prefix="/api/energy-sources",
    tags=["compat: HyperVolt"],
    dependencies=[require(Role.VIEWER)],
    route_class=AdminFirstRoute,
)
decisions = APIRouter(
    prefix="/api/ai-decisions",
    tags=["compat: HyperVolt"],
    dependencies=[require(Role.VIEWER)],
    route_class=AdminFirstRoute,
)


def _homes(intelligence: IntelligenceStore, tenant_id: str, home: str | None) -> list[Home]:
    if home is None:
        return intelligence.list_homes(tenant_id)
    found = intelligence.get_home(tenant_id, home)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"home {home!r} does not exist")
    return [found]


def _one_home(intelligence: IntelligenceStore, tenant_id: str, home: str | None) -> Home:
    homes = _homes(intelligence, tenant_id, home)
    if not homes:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "no home: create one with PUT /api/v1/homes/{home_id}"
        )
    if len(homes) > 1:
        names = ", ".join(h.home_id for h in homes)
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"home: give home=, one of {names}")
    return homes[0]


# -- preferences ---------------------------------------------------------------------


def _preference_rows(home: Home) -> list[dict[str, Any]]:
    values = PreferencesIn(
        **{k: getattr(home.preferences, k) for k in PreferencesIn.model_fields}
    ).model_dump(mode="json")
    return [
        {
            "preference_key": key,
            "preference_value": values[key],
            "description": DESCRIPTIONS.get(key, ""),
            "home_id": home.home_id,
        }
        for key in PreferencesIn.model_fields
    ]


def _preference(home: Home, key: str) -> dict[str, Any]:
    for row in _preference_rows(home):
        if row["preference_key"] == key:
            return row
    known = ", ".join(PreferencesIn.model_fields)
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"no preference {key!r}; known: {known}")


PreferenceKey = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z_]+$")]


@preferences.get("/", dependencies=[require(Role.VIEWER)], responses=NOT_OFFERED)
def list_preferences(  # noqa: PLR0913, PLR0917 - the documented query parameters
    request: Request,
    principal: PrincipalDep,
    intelligence: IntelligenceDep,
    home: HomeParam = None,
    page: PageParam = 1,
    page_size: PageSizeParam = DEFAULT_PAGE_SIZE,
) -> dict[str, Any]:
    """Every preference of the tenant's homes (or of ``home``), by home and key."""
    rows = [
        row for h in _homes(intelligence, principal.tenant_id, home) for row in _preference_rows(h)
    ]
    return drf_body(request, rows, page, page_size)


@preferences.get("/get_preference/", dependencies=[require(Role.VIEWER)], responses=NOT_OFFERED)
def get_preference_by_query(
    principal: PrincipalDep,
    intelligence: IntelligenceDep,
    key: Annotated[str, Query(min_length=1, max_length=64)],
    home: HomeParam = None,
) -> dict[str, Any]:
    """The seed's ``get_preference`` action: ``?key=``."""
    return _preference(_one_home(intelligence, principal.tenant_id, home), key)


@preferences.get("/{key}/", dependencies=[require(Role.VIEWER)], responses=NOT_OFFERED)
def get_preference(
    key: PreferenceKey,
    principal: PrincipalDep,
    intelligence: IntelligenceDep,
    home: HomeParam = None,
) -> dict[str, Any]:
    return _preference(_one_home(intelligence, principal.tenant_id, home), key)


# DRF's update and partial update: one field, so both replace its value
@preferences.put("/{key}/", dependencies=[require(Role.ADMIN)], responses=NOT_OFFERED)
@preferences.patch("/{key}/", dependencies=[require(Role.ADMIN)], responses=NOT_OFFERED)
def set_preference(
    key: PreferenceKey,
    principal: PrincipalDep,
    intelligence: IntelligenceDep,
    preference_value: Annotated[Any, Body(embed=True, description="the new value")],
    home: HomeParam = None,
) -> dict[str, Any]:
    """Change one preference of the home: checked as ``PUT /api/v1/homes/{id}`` checks it."""
    chosen = _one_home(intelligence, principal.tenant_id, home)
    _preference(chosen, key)  # 404 for a key Wattline does not have
    current = {k: getattr(chosen.preferences, k) for k in PreferencesIn.model_fields}
    try:
        checked = PreferencesIn(**{**current, key: preference_value})
    except ValidationError as exc:
        problems = "; ".join(e["msg"] for e in exc.errors())
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"{key}: {problems}") from None
    changed = Home(
        home_id=chosen.home_id,
        tz=chosen.tz,
        sources=chosen.sources,
        load_device_id=chosen.load_device_id,
        flexible_device_id=chosen.flexible_device_id,
        preferences=Preferences(**checked.model_dump()),
    )
    intelligence.put_home(principal.tenant_id, changed, time.time_ns() // 1_000_000)
    return _preference(changed, key)


# -- energy sources ------------------------------------------------------------------


def _source_rows(home: Home, services: ApiServices, tenant_id: str) -> list[dict[str, Any]]:
    store, now_ms = services.store, time.time_ns() // 1_000_000
    rows = []
    for source in home.sources:
        device, latest = source_device(source, store, tenant_id)
        output_w = next((latest[m] for m in POWER if m in latest), 0.0)
        # a grid without a meter is always there; a metered source while it is online
        available = (
            source.device_id is None
            if device is None
            else connection_status(device, now_ms, services.offline_after_ms)
            is ConnectionState.ONLINE
        )
        rows.append(
            {
                "source_type": source.kind.value,
                "is_available": available,
                # the seed's capacity is in watts; Wattline knows a battery's kWh
                "capacity": None,
                "capacity_kwh": source.capacity_kwh,
                "current_output": output_w,
                "priority": PRIORITIES[source.kind],
                "home_id": home.home_id,
                "device_id": source.device_id,
                "updated_at": None
                if device is None or device.last_seen_ms is None
                else iso_ms(device.last_seen_ms),
            }
        )
    return sorted(rows, key=lambda r: (r["home_id"], -r["priority"]))


@sources.get("/", responses=NOT_OFFERED)
def list_sources(  # noqa: PLR0913, PLR0917 - the documented query parameters
    request: Request,
    principal: PrincipalDep,
    services: ServicesDep,
    intelligence: IntelligenceDep,
    home: HomeParam = None,
    page: PageParam = 1,
    page_size: PageSizeParam = DEFAULT_PAGE_SIZE,
) -> dict[str, Any]:
    """The homes' energy sources, highest priority first, with their current output (W)."""
    rows = [
        row
        for h in _homes(intelligence, principal.tenant_id, home)
        for row in _source_rows(h, services, principal.tenant_id)
    ]
    return drf_body(request, rows, page, page_size)


@sources.get("/available/", responses=NOT_OFFERED)
def available_sources(
    principal: PrincipalDep,
    services: ServicesDep,
    intelligence: IntelligenceDep,
    home: HomeParam = None,
) -> list[dict[str, Any]]:
    """The seed's ``available`` action: the sources that can deliver now."""
    return [
        row
        for h in _homes(intelligence, principal.tenant_id, home)
        for row in _source_rows(h, services, principal.tenant_id)
        if row["is_available"]
    ]


# -- AI decisions --------------------------------------------------------------------

DecisionType = Literal["power_source", "load_shift"]
MAX_RECENT_HOURS = 31 * 24


def _decision_row(stored: StoredDecision) -> dict[str, Any]:
    d, o = stored.decision, stored.outcome
    automation = automation_out(stored.automation)
    return {
        "id": stored.id,
        # advice with a window for the flexible load shifts a load; without, it picks a source
        "decision_type": "power_source" if d.run_from_ms is None else "load_shift",
        "decision": {
            "home_id": d.home_id,
            "source": d.source.value,
            "run_from": None if d.run_from_ms is None else iso_ms(d.run_from_ms),
            "run_to": None if d.run_to_ms is None else iso_ms(d.run_to_ms),
            "expected": d.expected,
            "inputs": d.inputs,
            "rule_version": d.rule_version,
            "outcome": None
            if o is None
            else {
                "measured": iso_ms(o.measured_ms),
                "kwh": o.kwh,
                "cost_saved": o.cost_saved,
                "co2_saved_g": o.co2_saved_g,
                "explanation": o.explanation,
            },
            "automation": None if automation is None else automation.model_dump(),
        },
        # rules, not a model: a decision is as certain as its inputs
        "confidence": 1.0,
        "reasoning": d.explanation,
        "applied": stored.automation is not None and stored.automation.applied,
        "timestamp": iso_ms(d.decided_ms),
        "created_at": iso_ms(d.decided_ms),
    }


def _decision_page(  # noqa: PLR0913, PLR0917 - the filter and the page
    request: Request,
    intelligence: IntelligenceStore,
    tenant_id: str,
    where: DecisionFilter,
    cursor: str | None,
    page_size: int,
) -> dict[str, Any]:
    before = page_start(lambda text: decode_int("decisions", text, "decision id"), cursor)
    rows = intelligence.decisions_page(tenant_id, where, before, page_size + 1)
    page = rows[:page_size]
    next_url = None
    if len(rows) > page_size:
        next_url = str(request.url.include_query_params(cursor=encode("decisions", page[-1].id)))
    return {
        "count": intelligence.count_decisions(tenant_id, where),
        "next": next_url,
        "previous": None,
        "results": [_decision_row(r) for r in page],
    }


def _filter(
    home: str | None, decision_type: str | None, applied: bool | None, since_ms: int | None
) -> DecisionFilter:
    window = None if decision_type is None else decision_type == "load_shift"
    return DecisionFilter(home_id=home, since_ms=since_ms, applied=applied, with_window=window)


@decisions.get("/", responses=NOT_OFFERED)
def list_decisions(  # noqa: PLR0913, PLR0917 - the documented query parameters
    request: Request,
    principal: PrincipalDep,
    intelligence: IntelligenceDep,
    decision_type: DecisionType | None = None,
    applied: bool | None = None,
    home: HomeParam = None,
    cursor: CursorParam = None,
    page_size: PageSizeParam = DEFAULT_PAGE_SIZE,
) -> dict[str, Any]:
    """Every decision, newest first, 100 a page: follow ``next``; ``count`` counts them all."""
    where = _filter(home, decision_type, applied, None)
    return _decision_page(request, intelligence, principal.tenant_id, where, cursor, page_size)


@decisions.get("/recent/", responses=NOT_OFFERED)
def recent_decisions(  # noqa: PLR0913, PLR0917 - the documented query parameters
    request: Request,
    principal: PrincipalDep,
    intelligence: IntelligenceDep,
    hours: Annotated[int, Query(ge=1, le=MAX_RECENT_HOURS, description="how far back")] = 24,
    decision_type: DecisionType | None = None,
    cursor: CursorParam = None,
    page_size: PageSizeParam = DEFAULT_PAGE_SIZE,
) -> dict[str, Any]:
    """The decisions of the last ``hours`` (default 24), newest first."""
    since_ms = time.time_ns() // 1_000_000 - hours * 3_600_000
    where = _filter(None, decision_type, None, since_ms)
    return _decision_page(request, intelligence, principal.tenant_id, where, cursor, page_size)


@decisions.get("/{decision_id}/", responses=NOT_OFFERED)
def get_decision(
    decision_id: Annotated[int, Path(ge=1, le=2**31 - 1)],  # an INTEGER column
    principal: PrincipalDep,
    intelligence: IntelligenceDep,
) -> dict[str, Any]:
    found = intelligence.get_decision(principal.tenant_id, decision_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no decision {decision_id}")
    return _decision_row(found)
