"""The device look-ups a router makes for its caller: scoped to the caller's tenant.

Another tenant's device answers exactly as a device that does not exist (404,
the same message), so its existence is not revealed. A device shared with the
calling user is readable too, with the share's role.
"""

from __future__ import annotations

from fastapi import HTTPException, status

from wattline.model.devices import Device
from wattline.security.principal import Principal, PrincipalKind
from wattline.security.roles import Role
from wattline.storage.ports import Registry


def not_registered(device_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"device {device_id!r} is not registered")


def share_user(principal: Principal) -> str | None:
    """The user a device may be shared with: people only, not API keys or the bootstrap."""
    return principal.subject if principal.kind is PrincipalKind.USER else None


def readable_device(
    store: Registry, principal: Principal, device_id: str, needed: Role = Role.VIEWER
) -> Device:
    """The device when the caller may act on it with ``needed``: 404 when it is not
    theirs to see, 403 when it is (shared) but the share's role is too low."""
    grant = store.readable_device(
        device_id, tenant_id=principal.tenant_id, user_id=share_user(principal)
    )
    if grant is None:
        raise not_registered(device_id)
    role = principal.role if grant.share_role is None else grant.share_role
    if not role.allows(needed):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"this needs the {needed.value} role on device {device_id!r}; yours is {role.value}",
        )
    return grant.device


def check_readable(store: Registry, principal: Principal, device_id: str) -> None:
    """404 unless the caller may read the device: ``readable_device`` at the viewer's
    level (every role and every share allows it), for a route that needs no more.

    It asks for the device's id alone: a read route's device check selecting
    every column of the device took about a millisecond on PostgreSQL, much of
    it building the columns' descriptions (benchmarks/query.py)."""
    user_id = share_user(principal)
    if not store.readable_device_ids([device_id], tenant_id=principal.tenant_id, user_id=user_id):
        raise not_registered(device_id)


def owned_device(store: Registry, principal: Principal, device_id: str) -> Device:
    """The device of the caller's own tenant (to change it or its shares); 404 otherwise."""
    device = store.get_device(device_id, tenant_id=principal.tenant_id)
    if device is None:
        raise not_registered(device_id)
    return device
