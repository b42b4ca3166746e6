"""Sequence tracking, as tables and as properties over random delivery orders."""

from __future__ import annotations

import random

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from wattline.model.messages import Hello, Reading
from wattline.model.sequence import (
    MAX_GAPS,
    SeqGap,
    SeqState,
    SeqVerdict,
    _gap_holding,
    observe,
    reboot,
    sequence_batch,
)

NOW = 1_764_057_600_000


def run(seqs: list[int], state: SeqState | None = None) -> tuple[SeqState, list[SeqVerdict]]:
    state = state or SeqState()
    verdicts = []
    for seq in seqs:
        state, verdict = observe(state, seq, NOW + seq * 1000, NOW)
        verdicts.append(verdict)
    return state, verdicts


@pytest.mark.parametrize(
    ("seqs", "verdicts", "gaps"),
    [
        ([0, 1, 2], ["first", "in_order", "in_order"], []),
        ([5, 6], ["first", "in_order"], []),  # joining mid-stream is not a gap
        ([0, 3], ["first", "gap"], [(1, 2)]),
        ([0, 3, 1], ["first", "gap", "late"], [(2, 2)]),
        ([0, 4, 2], ["first", "gap", "late"], [(1, 1), (3, 3)]),
        ([0, 3, 1, 2], ["first", "gap", "late", "late"], []),
        ([0, 1, 1], ["first", "in_order", "duplicate"], []),
        ([0, 3, 1, 1], ["first", "gap", "late", "duplicate"], [(2, 2)]),
    ],
)
def test_verdicts_and_gaps(
    seqs: list[int], verdicts: list[str], gaps: list[tuple[int, int]]
) -> None:
    state, got = run(seqs)
    assert got == verdicts
    assert [(g.first_seq, g.last_seq) for g in state.gaps] == gaps


def test_hello_restarts_the_counter_without_a_gap_or_duplicate() -> None:
    state, _ = run([0, 1, 2, 3])
    state = reboot(state)
    state, first = observe(state, 0, NOW + 10_000, NOW)
    state, second = observe(state, 1, NOW + 11_000, NOW)
    assert (first, second) == (SeqVerdict.FIRST, SeqVerdict.IN_ORDER)
    assert state.boot == 1
    assert state.gaps == ()
    assert state.duplicates == 0


def test_reboot_without_hello_is_a_reset_not_a_duplicate() -> None:
    state, _ = run([0, 1, 2, 3])
    state, verdict = observe(state, 0, NOW + 60_000, NOW)
    assert verdict is SeqVerdict.RESET
    assert (state.boot, state.resets, state.next_seq) == (1, 1, 1)


def test_redelivery_from_an_earlier_boot_is_left_to_timestamp_dedup() -> None:
    state, _ = run([0, 1, 2])
    state = reboot(state)
    state, _ = observe(state, 0, NOW + 50_000, NOW)
    state, verdict = observe(state, 2, NOW + 2_000, NOW)  # the old boot's seq 2, redelivered
    assert verdict is SeqVerdict.EARLIER_BOOT
    assert state.gaps == ()


def test_gaps_of_a_previous_boot_are_not_filled_by_the_new_boot() -> None:
    state, _ = run([0, 5])
    state = reboot(state)
    state, _ = observe(state, 0, NOW + 50_000, NOW)
    state, verdict = observe(state, 1, NOW + 51_000, NOW)  # 1 was missing in boot 0
    assert verdict is SeqVerdict.IN_ORDER
    assert [(g.boot, g.first_seq, g.last_seq) for g in state.gaps] == [(0, 1, 4)]


def test_unsequenced_readings_pass_through() -> None:
    state, verdict = observe(SeqState(), None, NOW, NOW)
    assert (state, verdict) == (SeqState(), SeqVerdict.UNSEQUENCED)


@given(
    count=st.integers(min_value=1, max_value=200),
    lost=st.sets(st.integers(min_value=1, max_value=199), max_size=30),
    duplicated=st.lists(st.integers(min_value=0, max_value=199), max_size=30),
    seed=st.integers(),
)
def test_any_delivery_order_accounts_for_every_number(
    count: int, lost: set[int], duplicated: list[int], seed: int
) -> None:
    delivered = [s for s in range(count) if s not in lost]
    extra = [s for s in duplicated if s < count and s not in lost]
    rng = random.Random(seed)
    # In order except that seq 0 comes first, the rest shuffled a little.
    tail = delivered[1:] + extra
    rng.shuffle(tail)
    stream = delivered[:1] + tail if delivered and delivered[0] == 0 else []
    if not stream:
        return
    state, verdicts = run(stream)
    highest = max(stream)
    missing = {seq for gap in state.gaps for seq in range(gap.first_seq, gap.last_seq + 1)}
    assert missing == {s for s in range(highest + 1) if s in lost}
    assert verdicts.count(SeqVerdict.DUPLICATE) == len(extra)
    assert state.next_seq == highest + 1


def _interleaved(collectors: int, count: int) -> list[int]:
    """The order two collectors of a shared group commit in: all of one's share first."""
    return [seq for first in range(collectors) for seq in range(first, count, collectors)]


def test_past_max_gaps_the_oldest_are_forgotten_and_their_readings_kept() -> None:
    # A shared group hands out messages in turn: one collector commits every even
    # number before the other commits any odd one, a gap per message.
    count = 2 * (MAX_GAPS + 100)
    state, verdicts = run(_interleaved(2, count))
    evens, odds = verdicts[: count // 2], verdicts[count // 2 :]
    assert evens.count(SeqVerdict.GAP) == count // 2 - 1
    assert SeqVerdict.DUPLICATE not in odds
    assert state.gaps == ()  # the kept gaps were filled, the forgotten ones are not reopened
    dropped = count // 2 - 1 - MAX_GAPS  # gaps 1, 3, 5, ...: the oldest ones
    assert state.forgotten_through == 2 * dropped - 1


def test_a_repeat_above_the_forgotten_range_is_still_a_duplicate() -> None:
    state, _ = run(_interleaved(2, 2 * (MAX_GAPS + 100)))
    assert state.forgotten_through is not None
    newest = state.next_seq - 2
    state, verdicts = run([newest], state)
    assert verdicts == [SeqVerdict.DUPLICATE]


def test_a_hello_clears_what_was_forgotten() -> None:
    state, _ = run(_interleaved(2, 2 * (MAX_GAPS + 10)))
    assert state.forgotten_through is not None
    assert reboot(state).forgotten_through is None


def _one_by_one(
    states: dict[str, SeqState], events: list[Reading | Hello], now_ms: int
) -> tuple[dict[str, SeqState], list[Reading], int]:
    """``sequence_batch`` by its definition: ``observe`` (or ``reboot``) per event."""
    changed: dict[str, SeqState] = {}
    kept: list[Reading] = []
    dropped = 0
    for event in events:
        current = changed.get(event.device_id) or states.get(event.device_id, SeqState())
        if isinstance(event, Hello):
            changed[event.device_id] = reboot(current)
            continue
        updated, verdict = observe(current, event.seq, event.ts_ms, now_ms)
        if updated is not current:
            changed[event.device_id] = updated
        if verdict is SeqVerdict.DUPLICATE:
            dropped += 1
        else:
            kept.append(event)
    return changed, kept, dropped


_ONE_GAP = (SeqGap(0, 2, 4, NOW),)
_devices = st.sampled_from(["a", "b", "c"])
_events = st.lists(
    st.one_of(
        st.builds(
            lambda d, ts, seq: Reading(d, NOW + ts, {"p": 1.0}, seq),
            _devices,
            st.integers(-5, 40),
            st.none() | st.integers(0, 30),
        ),
        st.builds(lambda d: Hello(d, "meter", "1.0", ()), _devices),
    ),
    max_size=80,
)
_stored = st.dictionaries(
    _devices,
    st.builds(
        SeqState,
        boot=st.integers(0, 2),
        next_seq=st.none() | st.integers(0, 30),
        boot_first_ts_ms=st.none() | st.integers(NOW - 5, NOW + 20),
        last_ts_ms=st.none() | st.integers(NOW - 5, NOW + 40),
        gaps=st.just(()) | st.just(_ONE_GAP),
    ),
)


@given(states=_stored, events=_events, in_order=st.booleans())
# The next number, but older than the boot's first reading: an earlier boot's, not in order.
@example(
    states={"a": SeqState(next_seq=5, boot_first_ts_ms=NOW + 10, last_ts_ms=NOW + 10)},
    events=[Reading("a", NOW + 12, {"p": 1.0}, 5), Reading("a", NOW + 3, {"p": 1.0}, 6)],
    in_order=False,
)
# One late reading filling a stored gap: the batch's only change.
@example(
    states={"a": SeqState(next_seq=9, boot_first_ts_ms=NOW, last_ts_ms=NOW + 8, gaps=_ONE_GAP)},
    events=[Reading("a", NOW + 3, {"p": 1.0}, 3)],
    in_order=False,
)
def test_a_batch_is_sequenced_as_each_event_by_itself(
    states: dict[str, SeqState], events: list[Reading | Hello], in_order: bool
) -> None:
    """Runs of in-order readings take a shortcut; states, kept readings and duplicates
    come out exactly as ``observe`` says one event at a time."""
    if in_order:  # long in-order runs, interleaved devices: the shortcut's own case
        events = [Reading(d, NOW + i, {"p": 1.0}, i // 3) for i, d in enumerate("abc" * 20)]
    assert sequence_batch(states, events, NOW) == _one_by_one(states, events, NOW)


@given(
    spans=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 40), st.integers(1, 4)), max_size=30
    ),
    shuffled=st.randoms(use_true_random=False),
    in_order=st.booleans(),
    boot=st.integers(0, 2),
    seq=st.integers(-1, 50),
)
def test_the_gap_holding_a_number_is_found_in_any_order(
    spans: list[tuple[int, int, int]],
    shuffled: random.Random,
    in_order: bool,
    boot: int,
    seq: int,
) -> None:
    """The binary search agrees with a scan, gaps in the order they are made or not."""
    gaps: list[SeqGap] = []
    for gap_boot, first, length in sorted(spans):
        last = first + length - 1
        if not any(g.boot == gap_boot and g.last_seq >= first for g in gaps):  # disjoint
            gaps.append(SeqGap(gap_boot, first, last, 0))
    if not in_order:
        shuffled.shuffle(gaps)
    holding = [i for i, g in enumerate(gaps) if g.boot == boot and g.first_seq <= seq <= g.last_seq]
    assert _gap_holding(tuple(gaps), boot, seq) == (holding[0] if holding else None)


def test_gaps_out_of_order_are_still_found() -> None:
    gaps = (SeqGap(0, 10, 12, 0), SeqGap(0, 0, 2, 0), SeqGap(1, 4, 4, 0))
    assert [_gap_holding(gaps, 0, seq) for seq in (11, 1, 5, 4)] == [0, 1, None, None]
    assert _gap_holding(gaps, 1, 4) == 2


def test_a_batch_past_max_gaps_is_sequenced_as_each_event_by_itself() -> None:
    """Gaps opened past MAX_GAPS (the oldest forgotten), late fills among hundreds of
    gaps, fills of forgotten numbers and repeats, in one batch."""
    evens = [Reading("a", NOW + i, {"p": 1.0}, 2 * i) for i in range(MAX_GAPS + 20)]
    odds = [Reading("a", NOW + i, {"p": 1.0}, 2 * i + 1) for i in range(0, MAX_GAPS + 20, 3)]
    events: list[Reading | Hello] = [*evens, *odds, *evens[:5], *odds[-5:]]
    states = {"a": SeqState(next_seq=0, boot_first_ts_ms=NOW - 1, last_ts_ms=NOW - 1)}
    batched = sequence_batch(states, events, NOW)
    assert batched == _one_by_one(states, events, NOW)
    assert batched[0]["a"].forgotten_through is not None
    assert len(batched[0]["a"].gaps) < MAX_GAPS
