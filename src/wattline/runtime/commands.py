"""Commands in a running Wattline: the service every process's API uses, and the
dispatcher that runs beside a collector (``up``, ``collect``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

from wattline.commands.dispatcher import Dispatcher
from wattline.commands.downlinks import Prefixes
from wattline.commands.keys import SqlCommandKeys
from wattline.commands.relay import RelayPolicy
from wattline.commands.service import CommandService
from wattline.commands.store import SqlCommandStore
from wattline.commands.twin_store import SqlTwinStore
from wattline.config import Settings
from wattline.ingest.sources.base import MqttEndpoint
from wattline.simulator.commands import KeySource
from wattline.storage.sql import SqlStore
from wattline.storage.sql.leases import SqlLeases, holder_name
from wattline.storage.tenancy import DEFAULT_TENANT


def command_service(settings: Settings, store: SqlStore) -> CommandService:
    return CommandService(
        store=SqlCommandStore(store.engine),
        keys=SqlCommandKeys(store.engine),
        devices=store,
        twins=SqlTwinStore(store.engine),
        relay_policy=RelayPolicy(
            min_on_s=settings.relay_min_on_s,
            min_off_s=settings.relay_min_off_s,
            max_switches_per_hour=settings.relay_max_switches_per_hour,
        ),
    )


def prefixes(settings: Settings) -> Prefixes:
    return Prefixes(canonical=settings.topic_prefix, smartplug=settings.smartplug_topic_prefix)


@contextlib.asynccontextmanager
async def dispatching(
    settings: Settings, service: CommandService, store: SqlStore, endpoint: MqttEndpoint
) -> AsyncIterator[Dispatcher]:
    """The dispatcher's thread; one process at a time scans for due commands (a lease)."""
    dispatcher = Dispatcher(
        service,
        endpoint,
        prefixes(settings),
        release_spread_s=settings.command_release_spread_s,
        leases=SqlLeases(store.engine),
        holder=holder_name(),
    )
    service.wake = dispatcher.wake
    dispatcher.start()
    try:
        yield dispatcher
    finally:
        service.wake = None
        await asyncio.to_thread(dispatcher.stop)


def demo_keys(service: CommandService) -> KeySource:
    """The demo fleet's provisioning: the default tenant's public command keys."""

    def keys() -> list[tuple[str, str]]:
        return [(k.key_id, k.public_key) for k in service.keys.public_keys(DEFAULT_TENANT)]

    return keys


class ScheduledCommands:
    """The schedules' ``CommandIssuer`` port on the command service.

    A schedule was authorised when it was written (operator or above), so its
    runs issue without a caller's role, like a campaign's.
    """

    def __init__(self, service: CommandService) -> None:
        self._service = service

    def issue(  # noqa: PLR0913, PLR0917 - the port's fields, in its order
        self,
        tenant_id: str,
        device_id: str,
        name: str,
        parameters: Mapping[str, Any],
        issuer: str,
        expires_at: int,
    ) -> str:
        command = self._service.issue(tenant_id, device_id, name, parameters, issuer, expires_at)
        return command.command_id
