"""What a dispatcher pass costs the database when there is nothing to send: the
lease is renewed every few seconds, not on every pass, and a batch of readings
with nothing for the dispatcher does not start a pass at all."""

from __future__ import annotations

from paho.mqtt import client as mqtt

from wattline.commands.dispatcher import LEASE_RENEW_S, Dispatcher
from wattline.commands.keys import SqlCommandKeys
from wattline.commands.service import CommandService
from wattline.commands.states import CommandState
from wattline.commands.store import SqlCommandStore
from wattline.ingest.sources.base import MqttEndpoint
from wattline.model.events import Committed
from wattline.model.messages import CommandAck, CommandResult, Hello, Reading
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore
from wattline.storage.sql.leases import SqlLeases


class CountingLeases(SqlLeases):
    """The real leases, counting the writes that try to take or renew one."""

    attempts = 0

    def try_acquire(self, name: str, holder: str, ttl_ms: int) -> bool:
        self.attempts += 1
        return super().try_acquire(name, holder, ttl_ms)


def dispatcher(store: SqlStore, leases: SqlLeases, now_s: list[float]) -> Dispatcher:
    service = CommandService(SqlCommandStore(store.engine), SqlCommandKeys(store.engine), store)
    # never started: run_once is called by hand, and nothing is due, so nothing is published
    return Dispatcher(
        service, MqttEndpoint("127.0.0.1", 1), leases=leases, monotonic=lambda: now_s[0]
    )


def test_the_lease_is_renewed_every_few_seconds_not_on_every_pass(store: SqlStore) -> None:
    leases, now_s = CountingLeases(store.engine), [100.0]
    passes = dispatcher(store, leases, now_s)
    for _ in range(int(LEASE_RENEW_S / 0.25)):  # a pass every 0.25 s
        passes.run_once()
        now_s[0] += 0.25
    assert leases.attempts == 1
    passes.run_once()  # LEASE_RENEW_S after the first: renewed
    assert leases.attempts == 2
    rival = dispatcher(store, SqlLeases(store.engine), now_s)
    rival._holder = "rival"
    assert rival.run_once() == 0  # the lease is still held: the rival does nothing
    assert not rival._leading()


def test_only_batches_with_something_for_it_wake_the_dispatcher(store: SqlStore) -> None:
    passes = dispatcher(store, SqlLeases(store.engine), [0.0])
    passes.on_committed(Committed(readings=[Reading("plug-1", 1, {"power_w": 5.0})]))
    assert not passes._wake.is_set()
    passes.on_committed(Committed(hellos=[Hello("plug-1", "smart_plug", "1.0")]))
    assert passes._wake.is_set()


def test_an_ack_heard_twice_is_applied_once(store: SqlStore) -> None:
    """A canonical ack comes on the dispatcher's subscription and again from ingest:
    the second copy changes nothing and writes no second note."""
    passes = dispatcher(store, SqlLeases(store.engine), [0.0])
    service = passes._service
    store.register_device("plug-1", "smart_plug", 1, tenant_id=DEFAULT_TENANT)
    command = service.issue(DEFAULT_TENANT, "plug-1", "ping", {}, "test", None)
    sent = service.move(command, CommandState.SENT)
    assert sent is not None
    refused = CommandAck("plug-1", command.command_id, CommandResult.REJECTED, "bad", 2)
    message = mqtt.MQTTMessage(topic=b"iot/plug-1/command/ack")
    message.payload = b'{"command_id": "%s", "status": "rejected", "detail": "bad"}' % (
        command.command_id.encode()
    )
    passes._on_message(passes._client, None, message)
    assert passes._wake.is_set()
    passes._apply_events()
    passes._wake.clear()
    passes.on_committed(Committed(command_acks=[refused]))  # ingest's copy, later
    assert not passes._wake.is_set()
    passes._events.put_nowait(refused)  # both copies queued before either was applied
    passes._apply_events()
    answered = [t for t in service.history(DEFAULT_TENANT, command.command_id) if t.detail]
    assert [(t.to_state, t.detail) for t in answered] == [(CommandState.REJECTED, "bad")]
