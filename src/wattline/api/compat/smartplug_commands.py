"""The smart-plug seed's control endpoint (seeds/003): ``POST /devices/{id}/command``
``{"command": "relay_on"}`` -> ``{device_id, command, status, timestamp}``.

It issues through the same command service, role (operator), relay safety limits,
signing and audit record as ``POST /api/v1/devices/{id}/commands``; ``status`` is
the command's state when answered (``queued`` until the dispatcher has published
it, then ``sent``), and ``command_id`` lets the app follow it in the primary API.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from wattline.api.audit_trail import AuditDep
from wattline.api.deps import AdminFirstRoute, PrincipalDep, ServicesDep, require
from wattline.api.routers.commands import answered, issuer_of, known_device, service_of
from wattline.model.times import iso_ms
from wattline.security.roles import Role

router = APIRouter(tags=["compat: smart plug"], route_class=AdminFirstRoute)


class PlugCommand(BaseModel):
    command: Literal["relay_on", "relay_off", "relay_toggle"]


@router.post(
    "/devices/{device_id}/command",
    dependencies=[require(Role.OPERATOR)],
    responses={
        404: {"description": "no such device"},
        409: {"description": "the relay switched too recently (relay safety)"},
        501: {"description": "commands are not enabled"},
    },
)
async def send_plug_command(
    device_id: str,
    body: Annotated[PlugCommand, Body()],
    services: ServicesDep,
    principal: PrincipalDep,
    audit: AuditDep,
) -> dict[str, Any]:
    """Switch the plug: the seed's body and answer, Wattline's signed command behind them."""
    await run_in_threadpool(known_device, services, principal, device_id)
    service = service_of(services)
    with answered():
        command = await run_in_threadpool(
            service.issue,
            principal.tenant_id,
            device_id,
            body.command,
            {},
            issuer_of(principal),
            issuer_role=principal.role,
        )
    audit.record(
        "command.issue",
        device_id,
        {"command_id": command.command_id, "name": command.name, "parameters": {}},
    )
    return {
        "device_id": device_id,
        "command": command.name,
        "status": command.state.value,
        "timestamp": iso_ms(command.created_ms),
        "command_id": command.command_id,
    }
