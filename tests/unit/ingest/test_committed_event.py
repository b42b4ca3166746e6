"""A committed batch tells its listeners everything it held, acks and OTA reports included."""

from __future__ import annotations

from wattline.ingest.plan import BatchPlan, add_accepted
from wattline.model.events import Committed, fan_out
from wattline.model.messages import (
    CommandAck,
    CommandResult,
    InboundMessage,
    Interpreted,
    Reading,
)


def test_fan_out_tells_every_listener_in_order() -> None:
    heard: list[tuple[str, Committed]] = []
    event = Committed(readings=[Reading("d", 1, {"v": 1.0})])
    listener = fan_out(lambda e: heard.append(("a", e)), None, lambda e: heard.append(("b", e)))
    assert listener is not None
    listener(event)
    assert heard == [("a", event), ("b", event)]


def test_fan_out_of_nothing_is_none() -> None:
    assert fan_out(None, None) is None


def test_an_empty_event_is_false() -> None:
    assert not Committed()
    assert Committed(command_acks=[CommandAck("d", "c", CommandResult.DONE, None, 1)])


def test_a_plan_keeps_command_acks_for_the_listeners() -> None:
    ack = CommandAck("d", "c", CommandResult.DONE, None, 5)
    plan = BatchPlan()
    message = InboundMessage("iot/d/command/ack", b"{}", 5)
    add_accepted(plan, message, Interpreted("d", command_ack=ack, kind="command_ack"))
    assert plan.command_acks == [ack]
    assert plan.seen_ms == {"d": 5}
