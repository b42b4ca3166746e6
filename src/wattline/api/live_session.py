"""One live-stream client: authenticate, subscribe, catch up, then stream until it leaves.

Shared by the WebSocket endpoints and Server-Sent Events. The token never
travels in the URL (URLs end up in access logs and browser history): a
WebSocket client sends it in the ``Authorization`` header, as a
``Sec-WebSocket-Protocol`` entry ``bearer.<token>`` beside ``wattline``
(what a browser can do), or in its first message ``{"type": "auth",
"token": ...}``; an SSE client in the ``Authorization`` header.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from fastapi import HTTPException, WebSocket, status
from starlette.requests import HTTPConnection

from wattline.api.deps import authenticate
from wattline.api.ratelimit import limit_principal
from wattline.api.services import ApiServices
from wattline.api.tenancy import share_user
from wattline.live.catchup import (
    MAX_DEVICES,
    Missed,
    Served,
    catch_up_devices,
    fold_staged,
    merged,
    missed_alerts,
    missed_readings,
    wants_alerts,
)
from wattline.live.events import EventKind
from wattline.live.hub import LiveClient, LiveHub, Outgoing, outgoing
from wattline.live.subscriptions import Audience, Subscription
from wattline.model.devices import Device
from wattline.security.principal import Principal

# WebSocket close codes (4000-4999 are the application's; each mirrors an HTTP status)
BAD_REQUEST_CLOSE = 4400
UNAUTHORIZED_CLOSE = 4401
NOT_FOUND_CLOSE = 4404
RATE_LIMITED_CLOSE = 4429
UNAVAILABLE_CLOSE = 1013  # try again later: this process serves no live stream
GOING_AWAY_CLOSE = 1001  # the server is stopping
SUBPROTOCOL = "wattline"
BEARER_PROTOCOL_PREFIX = "bearer."
# A client that sends no credentials within this is closed.
AUTH_TIMEOUT_S = 10.0
# Shares granted or revoked while a client is connected take effect within this.
SHARES_REFRESH_S = 30.0
# Live readings also served by a catch-up are skipped for this long after it.
DEDUP_WINDOW_S = 5.0
# A close that a stuck client cannot receive is abandoned after this.
CLOSE_TIMEOUT_S = 5.0


class LiveRefusedError(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason[:120]  # a close reason is at most 123 bytes


def bearer_from_headers(connection: HTTPConnection) -> str | None:
    """The token of an ``Authorization: Bearer`` header or a ``bearer.<token>`` subprotocol."""
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    offered = connection.headers.get("sec-websocket-protocol", "")
    for raw in offered.split(","):
        entry = raw.strip()
        if entry.startswith(BEARER_PROTOCOL_PREFIX) and len(entry) > len(BEARER_PROTOCOL_PREFIX):
            return entry[len(BEARER_PROTOCOL_PREFIX) :]
    return None


def offered_subprotocol(websocket: WebSocket) -> str | None:
    offered = [p.strip() for p in websocket.headers.get("sec-websocket-protocol", "").split(",")]
    return SUBPROTOCOL if SUBPROTOCOL in offered else None


def principal_for(
    services: ApiServices, connection: HTTPConnection, token: str | None
) -> Principal:
    """The caller, rate-limited like any API request; LiveRefusedError otherwise."""
    try:
        principal = authenticate(services, connection, token)
        limit_principal(services.api_limits, principal.kind, principal.subject)
    except HTTPException as exc:
        code = (
            RATE_LIMITED_CLOSE
            if exc.status_code == status.HTTP_429_TOO_MANY_REQUESTS
            else UNAUTHORIZED_CLOSE
        )
        raise LiveRefusedError(code, str(exc.detail)) from None
    return principal


async def audience_of(services: ApiServices, principal: Principal) -> Audience:
    """The REST API's visibility as a filter: the tenant, and devices shared with the user."""
    user = share_user(principal)
    if user is None:
        return Audience(principal.tenant_id)
    shared = await asyncio.to_thread(services.store.shared_devices, user)
    return Audience(principal.tenant_id, frozenset(s.device.device_id for s in shared))


async def unreadable(
    services: ApiServices, principal: Principal, device_ids: Sequence[str]
) -> list[str]:
    """The ids among ``device_ids`` the caller may not read (404 in the REST API)."""
    if not device_ids:
        return []
    readable = await asyncio.to_thread(
        services.store.readable_device_ids,
        device_ids,
        tenant_id=principal.tenant_id,
        user_id=share_user(principal),
    )
    return [d for d in device_ids if d not in readable]


async def visible_devices(services: ApiServices, principal: Principal) -> list[Device]:
    def read() -> list[Device]:
        own = services.store.list_devices(tenant_id=principal.tenant_id)
        user = share_user(principal)
        shared = [s.device for s in services.store.shared_devices(user)] if user else []
        return own + shared

    return await asyncio.to_thread(read)


async def catch_up(
    services: ApiServices,
    principal: Principal,
    subscription: Subscription,
    since_ms: int | Mapping[str, int],
) -> Missed:
    """Readings and alert changes after ``since_ms``, merged oldest first.

    ``since_ms`` is one instant for every device, or per device (only the devices named)."""
    now_ms = services.clock_ms()
    readings = await _missed_readings(services, principal, subscription, since_ms, now_ms)
    if services.alerts is None or not wants_alerts(subscription):
        return readings
    # Alert changes are the tenant's, not a device's: from the earliest instant named.
    alerts_since_ms = since_ms if isinstance(since_ms, int) else min(since_ms.values())
    alerts = await asyncio.to_thread(
        functools.partial(
            missed_alerts,
            services.alerts,
            tenant_id=principal.tenant_id,
            subscription=subscription,
            since_ms=alerts_since_ms,
            now_ms=now_ms,
        )
    )
    return Missed(
        merged(readings.events, alerts.events),
        readings.truncated,
        alerts_truncated=alerts.alerts_truncated,
    )


async def _missed_readings(
    services: ApiServices,
    principal: Principal,
    subscription: Subscription,
    since_ms: int | Mapping[str, int],
    now_ms: int,
) -> Missed:
    if EventKind.READING not in subscription.kinds:
        return Missed([], truncated=False)
    only = None if isinstance(since_ms, int) else frozenset(since_ms)
    if subscription.devices and not (subscription.types or subscription.tags):
        # named devices were checked readable when subscribing: no listing needed
        named = sorted(subscription.devices if only is None else subscription.devices & only)
        chosen, cut = named[:MAX_DEVICES], len(named) > MAX_DEVICES
    else:
        devices = await visible_devices(services, principal)
        if only is not None:  # only what the caller may see: a device of another tenant is not
            devices = [device for device in devices if device.device_id in only]
        chosen, cut = catch_up_devices(subscription, devices)
    # What the stream has sent may still be staged (ADR 0033): folded first, the
    # store holds every reading the client could have missed.
    await asyncio.to_thread(fold_staged, services.store)
    missed = await asyncio.to_thread(
        functools.partial(
            missed_readings,
            services.store,
            tenant_id=principal.tenant_id,
            device_ids=chosen,
            subscription=subscription,
            since_ms=since_ms,
            now_ms=now_ms,
        )
    )
    return Missed(missed.events, missed.truncated or cut)


@dataclass
class Streamer:
    """Takes a hub client's buffered messages for its one writer, in order.

    Readings and alert changes a catch-up served are not sent again when they
    also arrive live (``fresh``); the client's shares are re-read every
    ``SHARES_REFRESH_S``."""

    hub: LiveHub
    client: LiveClient
    services: ApiServices
    principal: Principal
    # each frame a JSON array of the messages waiting (``?batch=true``), not one message
    batched: bool = False
    _served: Served = field(default_factory=Served)
    _served_until_s: float = 0.0
    _refresh_at_s: float = field(default_factory=lambda: time.monotonic() + SHARES_REFRESH_S)

    def remember_served(self, messages: Sequence[Outgoing]) -> None:
        self._served = Served.of(messages)
        self._served_until_s = time.monotonic() + DEDUP_WINDOW_S

    async def next_batch(self, idle_s: float = SHARES_REFRESH_S) -> list[Outgoing]:
        """The buffered messages, oldest first; empty after ``idle_s`` without any.

        Raises BufferClosedError when the client was cut off or the hub stopped."""
        if time.monotonic() >= self._refresh_at_s:
            self._refresh_at_s = time.monotonic() + SHARES_REFRESH_S
            audience = await audience_of(self.services, self.principal)
            self.hub.set_audience(self.client, audience)
        buffer = self.client.buffer
        if len(buffer):  # a closed buffer holds nothing
            return buffer.take_nowait()
        # A timeout scope rather than wait_for: wait_for wraps the take in a task of
        # its own, once per frame per client (a tenth of the event loop's time in
        # py-spy at 7,000 readings/s to 100 clients).
        try:
            async with asyncio.timeout(idle_s):
                return await buffer.take()
        except TimeoutError:
            return []

    def fresh(self, batch: list[Outgoing]) -> list[Outgoing]:
        """The batch without what a recent catch-up already sent."""
        if not self._served:
            return batch
        if time.monotonic() >= self._served_until_s:
            self._served = Served()
            return batch
        return [m for m in batch if not self._served.covers(m)]

    def rendered(self, missed: Missed, subscription: Subscription) -> list[Outgoing]:
        messages: list[Outgoing] = []
        for event in missed.events:
            messages.extend(outgoing(event, self.client.render(event, subscription.metrics)))
        return messages


async def close_quietly(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(websocket.close(code, reason[:120]), CLOSE_TIMEOUT_S)
