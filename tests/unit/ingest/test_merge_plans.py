"""Plans merged by the committer say what one plan of all their messages would say."""

from __future__ import annotations

from itertools import pairwise

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wattline.ingest.admit import Verdict
from wattline.ingest.interpret import InterpretConfig
from wattline.ingest.plan import BatchPlan, decode, merge_plans, plan_batch
from wattline.model.messages import InboundMessage

CONFIG = InterpretConfig()
DEVICES = ["a", "b", "c", "stranger"]
VERDICT = Verdict(admitted=frozenset({"a", "b", "c"}), unregistered=frozenset({"c"}))


def message(device: str, seq: int, received_ms: int, *, broken: bool) -> InboundMessage:
    body = b"{not json" if broken else orjson.dumps({"seq": seq, "metrics": {"power_w": 1.5}})
    return InboundMessage(f"iot/{device}/telemetry", body, received_ms)


messages_strategy = st.lists(
    st.builds(
        message,
        st.sampled_from(DEVICES),
        st.integers(0, 1_000),
        st.integers(1_700_000_000_000, 1_700_000_100_000),
        broken=st.booleans(),
    ),
    max_size=30,
)


def planned(messages: list[InboundMessage]) -> BatchPlan:
    return plan_batch(messages, decode(messages, CONFIG), VERDICT)


@settings(max_examples=200, deadline=None)
@given(messages=messages_strategy, cuts=st.lists(st.integers(0, 30), max_size=4))
def test_merged_plans_equal_the_plan_of_all_their_messages(
    messages: list[InboundMessage], cuts: list[int]
) -> None:
    bounds = [0, *sorted(min(cut, len(messages)) for cut in cuts), len(messages)]
    parts = [planned(messages[start:end]) for start, end in pairwise(bounds)]
    whole = planned(messages)
    merged = merge_plans(parts)
    assert merged.readings == whole.readings
    assert merged.arrival == whole.arrival
    assert merged.archive == whole.archive
    assert merged.quarantined == whole.quarantined
    assert merged.seen_ms == whole.seen_ms
    assert merged.register == whole.register


def test_a_merged_plan_is_archived_only_if_every_part_was() -> None:
    done, pending = BatchPlan(archived=True), BatchPlan()
    assert merge_plans([done, BatchPlan(archived=True)]).archived
    assert not merge_plans([done, pending]).archived


def test_one_plan_merges_into_itself() -> None:
    plan = planned([message("a", 1, 1_700_000_000_000, broken=False)])
    assert merge_plans([plan]) is plan


def test_an_import_does_not_merge_with_live_plans() -> None:
    with pytest.raises(ValueError, match="import"):
        merge_plans([BatchPlan(historical=True), BatchPlan()])
