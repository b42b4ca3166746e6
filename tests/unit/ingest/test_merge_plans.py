"""Batches planned apart and committed together: the merged plan is the plan of them all."""

from __future__ import annotations

import itertools

import orjson
from hypothesis import given
from hypothesis import strategies as st

from wattline.ingest.admit import Verdict
from wattline.ingest.interpret import InterpretConfig
from wattline.ingest.plan import BatchPlan, decode, devices_heard, merge_plans, plan_batch
from wattline.model.messages import InboundMessage

CONFIG = InterpretConfig()
T0 = 1_764_057_600_000
DEVICES = ("m1", "m2", "m3")


def message(device: str, kind: str, seq: int, received: int) -> InboundMessage:
    if kind == "telemetry":
        body = {"seq": seq, "ts": T0 + seq * 1000, "metrics": {"power_w": float(seq)}}
        return InboundMessage(f"iot/{device}/telemetry", orjson.dumps(body), T0 + received)
    if kind == "hello":
        body = {"type": "plug", "firmware": "1.0"}
        return InboundMessage(f"iot/{device}/hello", orjson.dumps(body), T0 + received)
    return InboundMessage(f"iot/{device}/telemetry", b"{not json", T0 + received)


messages = st.lists(
    st.builds(
        message,
        st.sampled_from(DEVICES),
        st.sampled_from(["telemetry", "hello", "garbage"]),
        st.integers(0, 50),
        st.integers(0, 10_000),
    ),
    min_size=1,
    max_size=40,
)


def planned(batch: list[InboundMessage], verdict: Verdict) -> BatchPlan:
    plan = plan_batch(batch, decode(batch, CONFIG), verdict)
    plan.archived = True  # as the planner leaves it
    return plan


@given(
    batch=messages,
    cuts=st.lists(st.integers(0, 40), max_size=4),
    unregistered=st.sets(st.sampled_from(DEVICES)),
    refused=st.sets(st.sampled_from(DEVICES), max_size=1),
)
def test_plans_merged_equal_the_plan_of_their_messages_together(
    batch: list[InboundMessage], cuts: list[int], unregistered: set[str], refused: set[str]
) -> None:
    heard = devices_heard(decode(batch, CONFIG))
    admitted = frozenset(heard - refused)
    verdict = Verdict(admitted, frozenset(admitted & unregistered))
    edges = sorted({0, len(batch), *(c for c in cuts if c < len(batch))})
    parts = [batch[a:b] for a, b in itertools.pairwise(edges)]

    merged = merge_plans([planned(part, verdict) for part in parts])

    assert merged == planned(batch, verdict)


def test_one_plan_merged_is_itself() -> None:
    plan = BatchPlan()
    assert merge_plans([plan]) is plan


def test_a_part_not_yet_archived_leaves_the_merge_to_archive() -> None:
    done, pending = BatchPlan(archived=True), BatchPlan(archived=False)
    assert not merge_plans([done, pending]).archived
    assert merge_plans([done, BatchPlan(archived=True)]).archived
