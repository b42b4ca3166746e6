"""Commands to devices: issue (optionally waiting for the answer), list, detail, cancel, bulk.

Operators and owners send commands; dangerous ones (reboot, factory reset,
firmware) and commands to devices that cannot verify signatures need an admin
or owner (``CommandService.issue`` checks it). Every command is audited.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query, status
from starlette.concurrency import run_in_threadpool

from wattline.api import cursors
from wattline.api.audit_trail import AuditDep
from wattline.api.command_schemas import (
    MAX_WAIT_S,
    BulkCommandCreate,
    BulkCommandOut,
    CommandCreate,
    CommandList,
    CommandOut,
    ConfigOut,
    ConfigPut,
    PublicKeyOut,
    command_out,
    config_out,
)
from wattline.api.cursors import DEFAULT_PAGE
from wattline.api.deps import PrincipalDep, ServicesDep, require
from wattline.api.paging import CursorParam, LimitParam, page_start
from wattline.api.services import ApiServices
from wattline.commands.service import CommandError, CommandService
from wattline.commands.states import Command
from wattline.commands.twin import ConfigError
from wattline.model.times import iso_ms
from wattline.protocols.validation import DEVICE_ID_RE
from wattline.security.principal import Principal
from wattline.security.roles import Role
from wattline.storage.keyset import DeviceFilter

router = APIRouter(prefix="/api/v1", tags=["commands"])
OperatorDep = require(Role.OPERATOR)
# A waiting request is told of each step this process stores (``CommandService.watch``);
# it also reads the command this often, for a step stored by another process: well
# under the 100 ms a round trip takes, and a cheap primary-key read.
WAIT_POLL_S = 0.01
WaitParam = Annotated[
    float,
    Query(ge=0, le=MAX_WAIT_S, description="seconds to wait for the device's answer (0: none)"),
]


def service_of(services: ApiServices) -> CommandService:
    if services.commands is None:
        raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, "commands are not enabled")
    return services.commands


@contextlib.contextmanager
def answered() -> Iterator[None]:
    try:
        yield
    except CommandError as exc:
        raise HTTPException(exc.status_code, str(exc)) from exc


def known_device(services: ApiServices, principal: Principal, device_id: str) -> str:
    """The device id when the caller's tenant has the device; 404 otherwise (another
    tenant's device answers as a missing one)."""
    # The pattern first: PostgreSQL refuses a NUL in a text parameter (a 500).
    if (
        not DEVICE_ID_RE.fullmatch(device_id)
        or services.store.get_device(device_id, tenant_id=principal.tenant_id) is None
    ):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown device {device_id!r}")
    return device_id


def issuer_of(principal: Principal) -> str:
    return f"{principal.kind.value}:{principal.subject}"


@router.post(
    "/devices/{device_id}/commands",
    status_code=status.HTTP_201_CREATED,
    dependencies=[OperatorDep],
)
async def issue_command(  # noqa: PLR0913, PLR0917 - the route's inputs
    device_id: str,
    body: Annotated[CommandCreate, Body()],
    services: ServicesDep,
    principal: PrincipalDep,
    audit: AuditDep,
    wait: WaitParam = 0.0,
) -> CommandOut:
    """Queue a signed command; with ``wait`` the answer holds its result when it came in time."""
    await run_in_threadpool(known_device, services, principal, device_id)
    service = service_of(services)
    name = body.command_name
    if name is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "give exactly one of name and command"
        )
    expires_ms = _expiry(body, services.clock_ms())
    with answered():
        command = await run_in_threadpool(
            service.issue,
            principal.tenant_id,
            device_id,
            name,
            body.parameters,
            issuer_of(principal),
            expires_ms,
            issuer_role=principal.role,
        )
    audit.record(
        "command.issue",
        device_id,
        {"command_id": command.command_id, "name": command.name, "parameters": body.parameters},
    )
    if wait > 0:
        command = await _until_final(service, command, wait)
    return command_out(command)


# The smart-plug seed's route and body, as an accepted shape of the one above.
router.add_api_route(
    "/devices/{device_id}/command",
    issue_command,
    methods=["POST"],
    status_code=status.HTTP_201_CREATED,
    dependencies=[OperatorDep],
    summary="Issue command (the smart-plug seed's path)",
)


def _expiry(body: CommandCreate, now_ms: int) -> int | None:
    if body.expires_at is not None:
        return int(body.expires_at.timestamp() * 1000)
    if body.expires_in_s is not None:
        return now_ms + int(body.expires_in_s * 1000)
    return None


async def _until_final(service: CommandService, command: Command, wait_s: float) -> Command:
    """The command once final, or as it is when ``wait_s`` has passed. A final step
    stored in this process answers at once, without a read."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    stepped: asyncio.Queue[Command] = asyncio.Queue()

    def told(moved: Command) -> None:
        loop.call_soon_threadsafe(stepped.put_nowait, moved)

    unwatch = service.watch(command.command_id, told)
    try:
        while not command.state.final and (left := deadline - loop.time()) > 0:
            try:
                moved = await asyncio.wait_for(stepped.get(), min(left, WAIT_POLL_S))
            except TimeoutError:
                command = await run_in_threadpool(
                    service.get, command.tenant_id, command.command_id
                )
                continue
            if moved.state.final:
                return moved
    finally:
        unwatch()
    return command


@router.get("/devices/{device_id}/commands", dependencies=[OperatorDep])
def list_commands(
    device_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_PAGE,
) -> CommandList:
    """The device's commands, newest first."""
    known_device(services, principal, device_id)
    service = service_of(services)
    after = page_start(lambda c: cursors.decode_int_str("commands", c, "command position"), cursor)
    page = service.store.page(principal.tenant_id, device_id, after, limit + 1)
    more = len(page) > limit
    page = page[:limit]
    next_cursor = (
        cursors.encode("commands", page[-1].created_ms, page[-1].command_id)
        if more and page
        else None
    )
    return CommandList(commands=[command_out(c) for c in page], next_cursor=next_cursor)


@router.get("/devices/{device_id}/commands/{command_id}", dependencies=[OperatorDep])
def get_command(
    device_id: str, command_id: str, services: ServicesDep, principal: PrincipalDep
) -> CommandOut:
    """One command with every step of its history."""
    known_device(services, principal, device_id)
    service = service_of(services)
    command = _own(service, principal, device_id, command_id)
    return command_out(command, service.history(principal.tenant_id, command_id))


@router.post("/devices/{device_id}/commands/{command_id}/cancel", dependencies=[OperatorDep])
def cancel_command(
    device_id: str,
    command_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    audit: AuditDep,
) -> CommandOut:
    """Withdraw a queued or sent command (409 once the device has answered)."""
    known_device(services, principal, device_id)
    service = service_of(services)
    _own(service, principal, device_id, command_id)
    with answered():
        command = service.cancel(principal.tenant_id, command_id, principal.display)
    audit.record("command.cancel", device_id, {"command_id": command_id})
    return command_out(command, service.history(principal.tenant_id, command_id))


def _own(service: CommandService, principal: Principal, device_id: str, command_id: str) -> Command:
    command = service.store.get(principal.tenant_id, command_id[:64])
    if command is None or command.device_id != device_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown command {command_id[:64]!r}")
    return command


@router.post("/commands/bulk", status_code=status.HTTP_201_CREATED, dependencies=[OperatorDep])
def bulk_command(
    body: Annotated[BulkCommandCreate, Body()],
    services: ServicesDep,
    principal: PrincipalDep,
    audit: AuditDep,
) -> BulkCommandOut:
    """One command to every device of a tag or type, released at ``rate_per_s``."""
    service = service_of(services)
    where = DeviceFilter(device_type=body.target.device_type, tag=body.target.tag)
    now = services.clock_ms()
    expires_ms = now + int(body.expires_in_s * 1000) if body.expires_in_s else None
    prepared: list[Command] = []
    refused: dict[str, str] = {}
    after: str | None = None
    while True:
        devices = services.store.device_page(after, 1000, where, tenant_id=principal.tenant_id)
        for device in devices:
            try:
                prepared.append(
                    service.prepare(
                        principal.tenant_id,
                        device.device_id,
                        body.name,
                        body.parameters,
                        issuer_of(principal),
                        expires_ms,
                        issuer_role=principal.role,
                        not_before_ms=now + int(len(prepared) * 1000 / body.rate_per_s),
                    )
                )
            except CommandError as exc:
                refused[device.device_id] = str(exc)
        if len(devices) < 1000:
            break
        after = devices[-1].device_id
    service.issue_many(prepared)
    issued = [command.command_id for command in prepared]
    audit.record(
        "command.bulk",
        body.target.tag or body.target.device_type or "",
        {"name": body.name, "issued": len(issued), "refused": len(refused)},
    )
    return BulkCommandOut(
        issued=issued, refused=refused, release_s=max(0, len(issued) - 1) / body.rate_per_s
    )


@router.get("/commands/keys", dependencies=[OperatorDep])
def command_keys(services: ServicesDep, principal: PrincipalDep) -> list[PublicKeyOut]:
    """The tenant's public command keys a device must accept now (give them at provisioning)."""
    return [
        PublicKeyOut(
            key_id=key.key_id,
            algorithm=key.algorithm,
            public_key=key.public_key,
            created_at=iso_ms(key.created_ms),
            valid_until=iso_ms(key.valid_until_ms) if key.valid_until_ms else None,
        )
        for key in service_of(services).keys.public_keys(principal.tenant_id)
    ]


@router.post(
    "/commands/keys/rotate",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require(Role.ADMIN)],
)
def rotate_command_key(
    services: ServicesDep,
    principal: PrincipalDep,
    audit: AuditDep,
    grace_s: Annotated[float, Query(ge=0, le=30 * 24 * 3600)] = 24 * 3600.0,
) -> list[PublicKeyOut]:
    """A new signing key; the previous one stays valid for ``grace_s``.

    Every device that verifies signatures (canonical and smart-plug families) is
    sent ``set_command_key`` with the new public key, signed with the previous
    key and expiring with the grace period (at most a week): a device offline
    now gets it when it reconnects within that time. A device that stays away
    longer must be re-provisioned with the keys listed here. ``grace_s`` under
    a second pushes nothing."""
    rotation = service_of(services).rotate_keys(
        principal.tenant_id, int(grace_s * 1000), issuer_of(principal)
    )
    audit.record(
        "command.key_rotate",
        principal.tenant_id,
        {"key_id": rotation.key.key_id, "pushed_to": len(rotation.commands)},
    )
    return command_keys(services, principal)


@router.get("/devices/{device_id}/config", dependencies=[OperatorDep])
def get_config(device_id: str, services: ServicesDep, principal: PrincipalDep) -> ConfigOut:
    """Desired and reported configuration, the delta still to apply, and when each changed."""
    known_device(services, principal, device_id)
    with answered():
        _, twin = service_of(services).config(principal.tenant_id, device_id)
    return config_out(device_id, twin)


@router.put("/devices/{device_id}/config", dependencies=[OperatorDep])
def put_config(
    device_id: str,
    body: Annotated[ConfigPut, Body()],
    services: ServicesDep,
    principal: PrincipalDep,
    audit: AuditDep,
) -> ConfigOut:
    """A new desired configuration (checked against the device type's schema: 422 names
    the field); its delta goes to the device now, or when it comes back."""
    known_device(services, principal, device_id)
    try:
        with answered():
            twin = service_of(services).set_config(principal.tenant_id, device_id, body.desired)
    except ConfigError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            # The shape of every other field error, so clients parse one 422 format.
            [{"loc": ["body", "desired", exc.field], "msg": str(exc), "type": "value_error"}],
        ) from exc
    audit.record(
        "device.config", device_id, {"version": twin.desired_version, "desired": body.desired}
    )
    return config_out(device_id, twin)
