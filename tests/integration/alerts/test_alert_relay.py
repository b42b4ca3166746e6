"""Several collectors, one leading evaluator: batches committed by a collector whose
evaluator does not lead reach the leader through Redis (the machine's Redis)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError
from tests.conftest import unavailable
from tests.integration.alerts.receivers import sqlite_store
from tests.integration.alerts.test_evaluator_store import (
    LOW,
    Clock,
    add_rule,
    evaluator,
    register,
    volts,
)

from wattline.live.alert_relay import AlertRelay
from wattline.model.alerts import AlertChange, ChangeKind, RuleKind
from wattline.model.events import fan_out

REDIS_URL = "redis://127.0.0.1:6379/0"


async def until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 - the relay's counters have no event
            await asyncio.sleep(0.01)
    assert condition(), what


def test_a_non_leader_collectors_batch_is_evaluated_by_the_leader(tmp_path: Path) -> None:
    try:
        Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except RedisError as exc:
        unavailable(f"no Redis at {REDIS_URL}: {exc}")
    channel = f"wattline:test:{uuid.uuid4().hex}"
    with sqlite_store(tmp_path) as store:
        register(store, "m1")
        register(store, "m2")
        add_rule(store, "low", RuleKind.THRESHOLD, LOW)
        clock = Clock()
        changes: dict[str, list[AlertChange]] = {"a": [], "b": []}
        leader, other = evaluator(store, clock, changes["a"]), evaluator(store, clock, changes["b"])
        leader.run_once()
        other.run_once()
        assert (leader.leading, other.leading) == (True, False)

        async def scenario() -> tuple[int, int]:
            loop = asyncio.get_running_loop()
            relays = {
                name: AlertRelay(REDIS_URL, name, ev.on_committed, loop, channel=channel)
                for name, ev in (("a", leader), ("b", other))
            }
            tasks = [asyncio.create_task(relay.run()) for relay in relays.values()]
            try:
                for relay in relays.values():
                    await asyncio.wait_for(relay.subscribed.wait(), 5)
                # each collector's listener fan-out: its own evaluator, and the relay
                committed_by = {
                    name: fan_out(ev.on_committed, relays[name].on_committed)
                    for name, ev in (("a", leader), ("b", other))
                }
                committed_by["b"](volts("m1", clock.now_ms, 8.0))  # under the limit
                committed_by["a"](volts("m2", clock.now_ms, 7.0))
                await until(lambda: relays["a"].received_batches == 1, 5, "b's batch at a")
                await until(lambda: relays["b"].received_batches == 1, 5, "a's batch at b")
                return relays["a"].received_batches, relays["b"].received_batches
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

        received = asyncio.run(scenario())
        leader.run_once()
        other.run_once()
        leader.stop()
        other.stop()
    assert received == (1, 1)  # each heard the other, never itself
    raised = sorted(c.device_id for c in changes["a"] if c.change is ChangeKind.RAISED)
    assert raised == ["m1", "m2"]  # m1 came from the collector that does not lead
    assert changes["b"] == []
