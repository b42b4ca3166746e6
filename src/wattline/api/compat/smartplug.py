"""The smart-plug seed's REST API (seeds/003): accounts, devices, telemetry, health.

Its paths are served where its app calls them (``/auth/*``, ``/devices``); its
``/health`` shape is at ``/compat/smartplug/health``, since ``/health`` is
Wattline's own (both answer 503 when down, so a status-code probe works on
either). Metrics carry the plug's names (``power``, not ``power_w``);
``relay_state`` is a boolean.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, Field

from wattline.api.account_schemas import (
    DisplayName,
    Email,
    LoginRequest,
    Password,
    RefreshRequest,
    TokenOut,
)
from wattline.api.audit_trail import AuditDep
from wattline.api.compat.names import reverse, seed_values
from wattline.api.cursors import DEFAULT_PAGE, decode_str, encode
from wattline.api.deps import (
    PUBLIC,
    AdminFirstRoute,
    IdentityDep,
    PrincipalDep,
    ServicesDep,
    StoreDep,
    require,
)
from wattline.api.metric_fields import resolve_fields
from wattline.api.paging import CursorParam, LimitParam, page_start
from wattline.api.routers import auth, health, pairing
from wattline.api.routers.devices import connection_status
from wattline.api.routers.energy import get_device_energy
from wattline.api.schemas import RequestBody
from wattline.api.series import series_request, time_range
from wattline.api.services import ApiServices
from wattline.api.tenancy import check_readable, readable_device
from wattline.model.devices import Device, LatestValue
from wattline.model.metrics import shown
from wattline.model.times import iso_ms
from wattline.protocols.adapters.smartplug import FIELDS
from wattline.protocols.validation import DEVICE_ID_RE
from wattline.security.principal import Principal
from wattline.security.roles import Role
from wattline.storage.tenancy import DeviceIdTakenError

# metric -> the plug's field name: power_w -> power
NAMES = reverse(FIELDS)
# Raw points of one history request at most; the seed asks by interval for long ranges.
MAX_POINTS = 10_000
# The plug's own type, given to a device its app registers without a pairing code.
PLUG_TYPE = "smartplug"

public = APIRouter(tags=["compat: smart plug"], dependencies=[PUBLIC])
router = APIRouter(tags=["compat: smart plug"], route_class=AdminFirstRoute)
# /health is Wattline's own: the plug's shape is beside it, not instead of it.
health_router = APIRouter(
    prefix="/compat/smartplug", tags=["compat: smart plug"], dependencies=[PUBLIC]
)


# -- accounts ---------------------------------------------------------------------


class RegisterRequest(RequestBody):
    email: Email
    password: Password
    full_name: DisplayName | None = None


class UserOut(BaseModel):
    id: str
    email: str
    full_name: str | None
    created_at: str


@public.post(
    "/auth/register",
    status_code=status.HTTP_201_CREATED,
    responses={
        403: {"description": "sign-up is by invitation only (WATTLINE_OPEN_SIGNUP is off)"},
        409: {"description": "an account with this email exists"},
    },
)
def register(body: RegisterRequest, identity: IdentityDep) -> UserOut:
    """A new account owning a household (tenant) of its own: open sign-up only."""
    name = body.full_name or body.email
    member = identity.members.sign_up(body.email, body.password, name, body.full_name)
    user = identity.accounts.user(member.user_id)
    return UserOut(
        id=user.user_id,
        email=user.email,
        full_name=user.display_name,
        created_at=iso_ms(user.created_ms),
    )


@public.post(
    "/auth/login",
    responses={401: {"description": "wrong credentials"}, 429: {"description": "too many"}},
)
def login(body: LoginRequest, request: Request, identity: IdentityDep) -> TokenOut:
    """``{access_token, token_type: "bearer", expires_in}`` (and a refresh token): the
    same sessions as /api/v1/auth/login."""
    return auth.login(body, request, identity)


@public.post("/auth/refresh", responses={401: {"description": "unknown or spent refresh token"}})
def refresh(body: RefreshRequest, request: Request, identity: IdentityDep) -> TokenOut:
    """A new token pair for a refresh token, which is spent."""
    return auth.refresh(body, request, identity)


# -- devices ----------------------------------------------------------------------


class PlugOut(BaseModel):
    id: str
    name: str
    status: str
    last_seen: str | None
    firmware_version: str | None
    created_at: str


class PlugList(BaseModel):
    devices: list[PlugOut]
    total: int = Field(description="devices in your household")
    next_cursor: str | None = Field(
        default=None, description="more than one page: pass it back as cursor"
    )


class PlugDetail(PlugOut):
    relay_state: bool | None
    current_power: float | None
    total_energy_kwh: float | None


class PlugCreate(RequestBody):
    device_id: str = Field(pattern=DEVICE_ID_RE.pattern, max_length=64)
    name: str = Field(min_length=1, max_length=255)
    pairing_code: str | None = Field(default=None, max_length=32)


def _names(services: ApiServices, principal: Principal, ids: list[str]) -> dict[str, str]:
    if services.device_names is None:
        return {}
    return services.device_names.names(ids, tenant_id=principal.tenant_id)


def _plug(device: Device, name: str | None, services: ApiServices) -> PlugOut:
    now_ms = time.time_ns() // 1_000_000
    return PlugOut(
        id=device.device_id,
        name=name or device.device_id,
        status=connection_status(device, now_ms, services.offline_after_ms).value,
        last_seen=iso_ms(device.last_seen_ms) if device.last_seen_ms is not None else None,
        firmware_version=device.firmware_version,
        created_at=iso_ms(device.registered_ms),
    )


@router.get("/devices", dependencies=[require(Role.VIEWER)])
def list_plugs(
    store: StoreDep,
    services: ServicesDep,
    principal: PrincipalDep,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_PAGE,
) -> PlugList:
    """Your household's devices in id order, 100 a page."""
    after = page_start(lambda text: decode_str("devices", text), cursor)
    everything = store.list_devices(tenant_id=principal.tenant_id)
    devices = sorted(everything, key=lambda d: d.device_id)
    if after is not None:
        devices = [d for d in devices if d.device_id > after]
    page = devices[:limit]
    names = _names(services, principal, [d.device_id for d in page])
    return PlugList(
        devices=[_plug(d, names.get(d.device_id), services) for d in page],
        total=len(everything),
        next_cursor=encode("devices", page[-1].device_id) if len(devices) > limit else None,
    )


@router.post(
    "/devices",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require(Role.ADMIN)],
    responses={
        404: {"description": "no such pairing code, or it expired"},
        409: {"description": "the device belongs to another household"},
        422: {"description": "the code is another device's"},
        429: {"description": "too many failed pairing claims"},
        501: {"description": "pairing is not offered in this process"},
    },
)
def add_plug(  # noqa: PLR0913, PLR0917 - the body, then dependencies
    body: PlugCreate,
    store: StoreDep,
    services: ServicesDep,
    principal: PrincipalDep,
    audit: AuditDep,
    response: Response,
) -> PlugOut:
    """Pair a device: with the code it shows, claim it into your household; without one,
    register it (as POST /api/v1/devices). Either way it gets the ``name``."""
    now_ms = services.clock_ms()
    if body.pairing_code is not None:
        claimed = pairing.claim(pairing.ClaimRequest(code=body.pairing_code), services, principal)
        if claimed.device_id != body.device_id:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"the pairing code was device {claimed.device_id!r}'s, not {body.device_id!r};"
                f" {claimed.device_id!r} is now in your household",
            )
    else:
        try:
            _, created = store.register_device(
                body.device_id, PLUG_TYPE, now_ms, [], tenant_id=principal.tenant_id
            )
        except DeviceIdTakenError as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
        if not created:
            response.status_code = status.HTTP_200_OK
        audit.record("device.create" if created else "device.update", f"device:{body.device_id}")
    if services.device_names is not None:
        services.device_names.set_name(
            body.device_id, body.name, now_ms, tenant_id=principal.tenant_id
        )
        audit.record("device.name", f"device:{body.device_id}", {"name": body.name})
    device = readable_device(store, principal, body.device_id)
    return _plug(device, body.name if services.device_names is not None else None, services)


def _total_energy_kwh(device: Device, store: StoreDep, principal: PrincipalDep) -> float | None:
    """Energy since the device was registered, as /api/v1/devices/{id}/energy computes it."""
    try:
        energy = get_device_energy(
            device.device_id, store, principal, start=str(device.registered_ms), interval="1mo"
        )
    except HTTPException:  # no power or energy series (yet)
        return None
    return round(energy.total_kwh, 6)


@router.get(
    "/devices/{device_id}",
    dependencies=[require(Role.VIEWER)],
    responses={404: {"description": "no such device in your household"}},
)
def get_plug(
    device_id: str, store: StoreDep, services: ServicesDep, principal: PrincipalDep
) -> PlugDetail:
    device = readable_device(store, principal, device_id)
    latest = {v.metric: v for v in store.latest_values([device_id]).get(device_id, [])}
    relay = latest.get("relay_state")
    power = latest.get("power_w")
    names = _names(services, principal, [device_id])
    return PlugDetail(
        **_plug(device, names.get(device_id), services).model_dump(),
        relay_state=bool(shown("relay_state", relay.value)) if relay is not None else None,
        current_power=power.value if power is not None else None,
        total_energy_kwh=_total_energy_kwh(device, store, principal),
    )


# -- telemetry --------------------------------------------------------------------


@router.get(
    "/devices/{device_id}/telemetry",
    dependencies=[require(Role.VIEWER)],
    responses={
        400: {"description": "a field matching none of the device's metrics"},
        404: {"description": "no such device"},
        422: {"description": "a malformed time or interval"},
    },
)
def get_plug_telemetry(  # noqa: PLR0913, PLR0917 - the documented query parameters
    device_id: str,
    store: StoreDep,
    principal: PrincipalDep,
    start: Annotated[str | None, Query(description="ISO 8601; default end - 24 h")] = None,
    end: Annotated[str | None, Query(description="ISO 8601; default now")] = None,
    interval: Annotated[str | None, Query(description="1m, 5m, 1h...; omit for raw")] = None,
    fields: Annotated[str | None, Query(description="voltage,current,power")] = None,
) -> dict[str, Any]:
    """History as ``data[{timestamp, power_avg, power_min, power_max, ...}]`` per interval,
    or raw readings ``data[{timestamp, power, ...}]`` without one."""
    check_readable(store, principal, device_id)
    names = resolve_fields(store, [device_id], fields, f"device {device_id!r}")
    if interval is None:
        start_ms, end_ms = time_range(start, end)
        points = store.raw_points(device_id, start_ms, end_ms, names, MAX_POINTS)
        data = [{"timestamp": iso_ms(p.ts_ms), **seed_values(p.metrics, NAMES)} for p in points]
    else:
        plan = series_request(start, end, interval, None, "avg,min,max").plan
        start_ms, end_ms = plan.start_ms, plan.end_ms
        buckets = store.series([device_id], plan, names).get(device_id, [])
        data = [
            {
                "timestamp": iso_ms(bucket.start_ms),
                **{
                    f"{NAMES.get(metric, metric)}_{stat}": value
                    for metric, a in bucket.metrics.items()
                    for stat, value in _stats(metric, a.sum / a.count, a.min, a.max)
                },
            }
            for bucket in buckets
        ]
    return {
        "device_id": device_id,
        "start": iso_ms(start_ms),
        "end": iso_ms(end_ms),
        "interval": interval,
        "data": data,
        "total_points": len(data),
    }


def _stats(metric: str, avg: float, low: float, high: float) -> list[tuple[str, float | bool]]:
    return [("avg", avg), ("min", shown(metric, low)), ("max", shown(metric, high))]


@router.get(
    "/devices/{device_id}/telemetry/latest",
    dependencies=[require(Role.VIEWER)],
    responses={404: {"description": "no such device, or nothing received from it yet"}},
)
def get_plug_latest(device_id: str, store: StoreDep, principal: PrincipalDep) -> dict[str, Any]:
    """The newest value of each metric, flat: ``{device_id, timestamp, power, relay_state...}``;
    ``timestamp`` is the newest of them."""
    check_readable(store, principal, device_id)
    values: list[LatestValue] = store.latest_values([device_id]).get(device_id, [])
    if not values:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no telemetry from {device_id!r} yet")
    newest = max(v.ts_ms for v in values)
    flat = seed_values({v.metric: v.value for v in values}, NAMES)
    return {"device_id": device_id, "timestamp": iso_ms(newest), **flat}


# -- health -----------------------------------------------------------------------


@health_router.get("/health", responses={503: {"description": "a component is down"}})
def plug_health(services: ServicesDep, response: Response) -> dict[str, Any]:
    """``{"status": "healthy"|"unhealthy", "timestamp", "services": {name: status}}``."""
    answer = health.health(services, response)
    return {
        "status": "unhealthy" if answer.status == "down" else "healthy",
        "timestamp": iso_ms(time.time_ns() // 1_000_000),
        "services": {
            name: "healthy" if c.status == "ok" else c.status
            for name, c in answer.components.items()
        },
    }
