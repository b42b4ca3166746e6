"""A request waiting for a command's answer is told of the steps its process stores,
and still finds a step another process stored by reading the command."""

from __future__ import annotations

import asyncio
import threading
import time

from wattline.api.routers.commands import _until_final
from wattline.commands.keys import SqlCommandKeys
from wattline.commands.service import CommandService
from wattline.commands.states import Command, CommandState
from wattline.commands.store import SqlCommandStore
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore


def service_on(store: SqlStore) -> CommandService:
    return CommandService(SqlCommandStore(store.engine), SqlCommandKeys(store.engine), store)


def issued(store: SqlStore, service: CommandService) -> Command:
    store.register_device("plug-1", "smart_plug", 1, tenant_id=DEFAULT_TENANT)
    return service.issue(DEFAULT_TENANT, "plug-1", "ping", {}, "test", None)


def test_watchers_are_told_of_each_stored_step_until_they_stop(store: SqlStore) -> None:
    service = service_on(store)
    command = issued(store, service)
    told: list[CommandState] = []
    unwatch = service.watch(command.command_id, lambda moved: told.append(moved.state))
    sent = service.move(command, CommandState.SENT)
    assert sent is not None
    assert service.move(command, CommandState.SENT) is None  # lost: nothing to tell
    unwatch()
    assert service.move(sent, CommandState.SUCCEEDED) is not None
    assert told == [CommandState.SENT]
    assert service._watchers == {}


def test_a_final_step_in_this_process_answers_the_waiter(store: SqlStore) -> None:
    service = service_on(store)
    command = issued(store, service)

    def answer() -> None:
        time.sleep(0.1)
        sent = service.move(command, CommandState.SENT)
        assert sent is not None
        service.move(sent, CommandState.SUCCEEDED, "done")

    thread = threading.Thread(target=answer)
    started = time.monotonic()
    thread.start()
    final = asyncio.run(_until_final(service, command, 5.0))
    thread.join()
    assert final.state is CommandState.SUCCEEDED
    assert time.monotonic() - started < 2.0
    assert service._watchers == {}


def test_a_step_stored_by_another_process_is_found_by_reading(store: SqlStore) -> None:
    service, other = service_on(store), service_on(store)
    command = issued(store, service)

    def answer() -> None:
        time.sleep(0.1)
        sent = other.move(command, CommandState.SENT)
        assert sent is not None
        other.move(sent, CommandState.FAILED, "no")

    thread = threading.Thread(target=answer)
    thread.start()
    final = asyncio.run(_until_final(service, command, 5.0))
    thread.join()
    assert final.state is CommandState.FAILED


def test_without_an_answer_the_wait_ends_with_the_command_as_it_is(store: SqlStore) -> None:
    service = service_on(store)
    command = issued(store, service)
    started = time.monotonic()
    still = asyncio.run(_until_final(service, command, 0.2))
    assert still.state is CommandState.QUEUED
    assert 0.2 <= time.monotonic() - started < 2.0
