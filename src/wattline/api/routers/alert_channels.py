"""Notification channels (admins), their deliveries with every attempt, and manual
redelivery of dead letters."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status

from wattline.alerts.webhook import new_secret
from wattline.api.alert_schemas import (
    ChannelIn,
    ChannelList,
    ChannelOut,
    DeliveryList,
    DeliveryOut,
)
from wattline.api.audit_trail import AuditDep
from wattline.api.deps import AdminFirstRoute, PrincipalDep, ServicesDep, require
from wattline.model.notifications import Channel, ChannelKind, DeliveryStatus, Routing
from wattline.security.principal import Principal
from wattline.security.roles import Role
from wattline.storage.sql.notifications import SqlNotifications
from wattline.storage.tenancy import DEFAULT_TENANT

router = APIRouter(prefix="/api/v1/alert-channels", tags=["alerts"], route_class=AdminFirstRoute)
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such channel or delivery in your tenant"}
}
MAX_CHANNELS_PER_TENANT = 100


async def get_notifications(services: ServicesDep) -> SqlNotifications:
    if services.notifications is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "notifications are not offered here")
    return services.notifications


NotificationsDep = Annotated[SqlNotifications, Depends(get_notifications)]


def _allow_private(body: ChannelIn, principal: Principal) -> bool:
    """Private targets are the platform's call: a tenant's admin could otherwise make
    Wattline probe the network it runs in."""
    if body.allow_private and principal.tenant_id != DEFAULT_TENANT:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "allow_private needs an admin of the platform's own tenant "
            f"({DEFAULT_TENANT!r}): webhooks of other tenants reach public addresses only",
        )
    return body.allow_private


def _channel(
    body: ChannelIn, channel_id: str, principal: Principal, secret: str | None, now_ms: int
) -> Channel:
    r = body.routing
    return Channel(
        channel_id=channel_id,
        tenant_id=principal.tenant_id,
        name=body.name,
        kind=ChannelKind(body.kind),
        target=body.target,
        routing=Routing(
            min_severity=r.min_severity,
            rule_ids=tuple(r.rule_ids),
            group_window_s=r.group_window_s,
            repeat_interval_s=r.repeat_interval_s,
            quiet_start=r.quiet_start,
            quiet_end=r.quiet_end,
            timezone=r.timezone,
            send_cleared=r.send_cleared,
        ),
        secret=secret,
        allow_private=_allow_private(body, principal),
        enabled=body.enabled,
        created_ms=now_ms,
    )


@router.get("", dependencies=[require(Role.ADMIN)])
def list_channels(store: NotificationsDep, principal: PrincipalDep) -> ChannelList:
    return ChannelList(
        channels=[ChannelOut.of(c) for c in store.channels(tenant_id=principal.tenant_id)]
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require(Role.ADMIN)],
    responses={
        403: {"description": "allow_private outside the platform's tenant"},
        409: {"description": "too many channels"},
    },
)
def create_channel(
    body: ChannelIn,
    store: NotificationsDep,
    services: ServicesDep,
    principal: PrincipalDep,
    audit: AuditDep,
) -> ChannelOut:
    """A channel; a webhook's signing secret is in this answer only: keep it."""
    if len(store.channels(tenant_id=principal.tenant_id)) >= MAX_CHANNELS_PER_TENANT:
        raise HTTPException(status.HTTP_409_CONFLICT, f"at most {MAX_CHANNELS_PER_TENANT} channels")
    secret = new_secret() if body.kind == "webhook" else None
    channel = _channel(body, uuid.uuid4().hex, principal, secret, services.clock_ms())
    store.save_channel(channel)
    audit.record(
        "alert_channel.create",
        f"alert_channel:{channel.channel_id}",
        {
            "kind": channel.kind.value,
            "target": channel.target,
            "allow_private": channel.allow_private,
        },
    )
    return ChannelOut.of(channel, with_secret=True)


@router.put("/{channel_id}", dependencies=[require(Role.ADMIN)], responses=_NOT_FOUND)
def update_channel(
    channel_id: str,
    body: ChannelIn,
    store: NotificationsDep,
    principal: PrincipalDep,
    audit: AuditDep,
) -> ChannelOut:
    """Change the channel; a webhook keeps its secret."""
    before = store.get_channel(channel_id, tenant_id=principal.tenant_id)
    if before is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no channel {channel_id[:40]!r}")
    secret = before.secret or (new_secret() if body.kind == "webhook" else None)
    channel = _channel(body, channel_id, principal, secret, before.created_ms)
    store.save_channel(channel)
    audit.record("alert_channel.update", f"alert_channel:{channel_id}", {"target": channel.target})
    return ChannelOut.of(channel)


@router.delete(
    "/{channel_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[require(Role.ADMIN)],
    responses=_NOT_FOUND,
)
def delete_channel(
    channel_id: str, store: NotificationsDep, principal: PrincipalDep, audit: AuditDep
) -> Response:
    if not store.delete_channel(channel_id, tenant_id=principal.tenant_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no channel {channel_id[:40]!r}")
    audit.record("alert_channel.delete", f"alert_channel:{channel_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/deliveries", dependencies=[require(Role.OPERATOR)])
def list_deliveries(
    store: NotificationsDep,
    principal: PrincipalDep,
    status_: Annotated[
        DeliveryStatus | None, Query(alias="status", description="dead: the dead-letter list")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveryList:
    """Deliveries of your tenant, newest first; ``status=dead`` is the dead-letter list."""
    found = store.deliveries(tenant_id=principal.tenant_id, status=status_, limit=limit)
    return DeliveryList(deliveries=[DeliveryOut.of(d) for d in found])


@router.get(
    "/deliveries/{delivery_id}", dependencies=[require(Role.OPERATOR)], responses=_NOT_FOUND
)
def get_delivery(delivery_id: str, store: NotificationsDep, principal: PrincipalDep) -> DeliveryOut:
    """One delivery with every attempt and its outcome."""
    tenant = principal.tenant_id
    found = store.get_delivery(delivery_id, tenant_id=tenant)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no delivery {delivery_id[:48]!r}")
    return DeliveryOut.of(found, store.attempts(delivery_id, tenant_id=tenant))


@router.post(
    "/deliveries/{delivery_id}/redeliver", dependencies=[require(Role.ADMIN)], responses=_NOT_FOUND
)
def redeliver(
    delivery_id: str,
    store: NotificationsDep,
    services: ServicesDep,
    principal: PrincipalDep,
    audit: AuditDep,
) -> DeliveryOut:
    """Send a dead (or delivered) message again, now: one more attempt, recorded like
    the others; if it fails too, the message is back in the dead-letter list."""
    delivery = store.redeliver(
        delivery_id, tenant_id=principal.tenant_id, now_ms=services.clock_ms()
    )
    if delivery is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no delivery {delivery_id[:48]!r}")
    audit.record("alert_delivery.redeliver", f"alert_delivery:{delivery_id}")
    return DeliveryOut.of(delivery)
