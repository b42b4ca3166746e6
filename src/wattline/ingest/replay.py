"""Replay: quarantined messages run again through today's rules and registry.

Accepted ones are stored and leave the quarantine in the same transaction;
the rest stay, and the report says why. The raw archive already holds every
one of them, so nothing is archived again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from wattline.ingest.admit import Verdict
from wattline.ingest.plan import BatchPlan, Outcome, add_accepted, admitted
from wattline.model.messages import InboundMessage, Rejection
from wattline.storage.base import CommitResult, QuarantineRecord


@dataclass(frozen=True, slots=True)
class ReplayReport:
    accepted: list[int]
    # quarantine id -> the reason it is still rejected for
    still_rejected: dict[int, str]
    result: CommitResult


def replayed_messages(records: Sequence[QuarantineRecord]) -> list[InboundMessage]:
    # The original arrival time: protocols without device timestamps take it
    # as the reading's time, and the skew rule judges the message as it came.
    return [InboundMessage(r.topic, r.payload, r.received_ms) for r in records]


def replay(
    records: Sequence[QuarantineRecord],
    judge: Callable[[Sequence[InboundMessage]], tuple[list[Outcome], Verdict]],
    commit: Callable[[BatchPlan], CommitResult],
) -> ReplayReport:
    """``judge`` decodes and admits the messages; ``commit`` writes the plan."""
    messages = replayed_messages(records)
    outcomes, verdict = judge(messages)
    plan = BatchPlan(archived=True)
    accepted: list[int] = []
    still_rejected: dict[int, str] = {}
    for record, message, outcome in zip(
        records, messages, admitted(outcomes, verdict), strict=True
    ):
        if isinstance(outcome, Rejection):
            still_rejected[record.id] = outcome.reason.value
        else:
            add_accepted(plan, message, outcome)
            accepted.append(record.id)
    plan.register = [d for d in plan.seen_ms if d in verdict.unregistered]
    plan.resolved_quarantine = accepted
    result = commit(plan)
    return ReplayReport(accepted=accepted, still_rejected=still_rejected, result=result)
