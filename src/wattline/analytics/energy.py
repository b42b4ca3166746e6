"""Energy (Wh) per time bucket, from a cumulative counter or by integrating power. Pure.

Both take points sorted by time and the bucket edges from ``model.calendar``,
and stream: the input may be an iterator over years of readings. Feeding them
from rollup tiers instead of raw samples needs no change here: a counter is
fully described by its readings in order, so each bucket's ``first`` and
``last`` can be passed as points; power can be fed as one mean point per
bucket (``sum / count``), which ``energy_from_mean_power_w`` turns into Wh.

Counter rules (docs/energy.md explains them with examples):

1. **Increase.** A reading at or above the reference (the highest trusted
   reading) adds the difference.
2. **Small drop** (less than ``reset_drop_ratio`` below the reference, 10 % by
   default): noise or rounding. Ignored; the counter must climb back above the
   reference before anything more is counted, so nothing counts twice.
3. **Large drop**: held as *pending*, because one reading cannot tell a reset
   from a glitch. The readings after it decide:
   - **bogus drop**: a later reading returns to the reference or above (a 0,
     then the previous value again). The low readings are ignored and only the
     growth above the reference counts: no spike.
   - **reset** (reboot, meter replacement): a later reading grows from the low
     value and stays clearly (``reset_drop_ratio``) below the old reference. The
     counter restarted at zero, so the energy since the reset is that reading's value.
   - **wrap**: as a reset, but the reference was within ``wrap_band_ratio`` of the
     register maximum ``wrap_wh`` and the new reading within that band above zero:
     the energy is ``wrap_wh - reference + reading``.
   While pending, nothing is counted; a drop in the last readings of the data is
   decided when the next reading arrives. When a reading lands in the band
   just below the old reference it stays undecided: Wattline would rather count
   too little than invent a spike.
4. A step is never negative.

A counter step is assigned whole to the bucket holding the reading that ends
it, so the sum over buckets equals the counter difference over the range
exactly (for whole-Wh registers; to float rounding otherwise).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

MS_PER_HOUR = 3_600_000
# Counters first: a meter's own register is exact, integration only approximates it.
COUNTER_METRICS = ("energy_wh", "energy_import_wh")
POWER_METRICS = ("power_w", "ac_power_w")
# Readings further apart than this are not bridged by integration: the device was
# off-line and its power in between is unknown. Devices report every few seconds.
DEFAULT_MAX_GAP_S = 900.0


class Method(StrEnum):
    COUNTER = "counter"
    POWER = "power"


@dataclass(frozen=True, slots=True)
class Point:
    ts_ms: int
    value: float


@dataclass(frozen=True, slots=True)
class CounterRules:
    # A drop of more than this fraction of the reading before it is a reset
    # candidate (Home Assistant uses the same 10 %); smaller drops are noise.
    reset_drop_ratio: float = 0.1
    # The register's modulus: 2**32 Wh, or 1e9 Wh for a 999999.9 kWh display. None: never wraps.
    wrap_wh: float | None = None
    # How close to the maximum (and to zero after it) a wrap must be.
    wrap_band_ratio: float = 0.1


def choose_source(
    metrics: Collection[str], source: str = "auto", metric: str | None = None
) -> tuple[Method, str] | None:
    """The method and metric for a device with these metrics; None if it has neither.

    ``source`` is auto, counter or power; ``metric`` names the series explicitly.
    """
    wanted = [Method(source)] if source != "auto" else [Method.COUNTER, Method.POWER]
    for method in wanted:
        names = (metric,) if metric else _CANDIDATES[method]
        for name in names:
            if name in metrics:
                return method, name
    return None


_CANDIDATES = {Method.COUNTER: COUNTER_METRICS, Method.POWER: POWER_METRICS}


def counter_steps(points: Iterable[Point], rules: CounterRules | None = None) -> Iterator[Point]:
    """(time of the reading that ends the step, energy_wh >= 0) by the rules above."""
    counter = _Counter(rules or CounterRules())
    for point in points:
        step = counter.feed(point)
        if step is not None:
            yield step


class _Counter:
    """The rules' state between readings: the reference, and a large drop still undecided."""

    __slots__ = ("_keep", "_rules", "pending_low", "reference")

    def __init__(self, rules: CounterRules) -> None:
        self._rules = rules
        self._keep = 1.0 - rules.reset_drop_ratio
        self.reference: float | None = None
        self.pending_low: float | None = None

    def feed(self, point: Point) -> Point | None:
        """The step this reading ends, if any."""
        value, reference = point.value, self.reference
        if reference is None:
            self.reference = value
        elif value >= reference:
            # An increase, or a pending drop that bounced back: count only the rise.
            self.reference, self.pending_low = value, None
            return Point(point.ts_ms, value - reference)
        elif self.pending_low is None:
            if value < reference * self._keep:
                self.pending_low = value
        elif value <= self.pending_low:
            self.pending_low = value
        elif value < reference * self._keep:
            self.reference, self.pending_low = value, None
            return Point(point.ts_ms, _restart_wh(reference, value, self._rules))
        return None


def _restart_wh(reference: float, value: float, rules: CounterRules) -> float:
    """Energy across a confirmed restart: a wrap past the register maximum, else a reset to 0."""
    if rules.wrap_wh is not None:
        band_wh = rules.wrap_wh * rules.wrap_band_ratio
        if reference >= rules.wrap_wh - band_wh and value <= band_wh:
            return rules.wrap_wh - reference + value
    return value


def counter_energy(
    points: Iterable[Point], edges: Sequence[int], rules: CounterRules | None = None
) -> list[float]:
    """Wh per bucket from counter readings; readings before edges[0] only warm up the rules."""
    return _per_bucket(counter_steps(points, rules), edges)


def _per_bucket(steps: Iterable[Point], edges: Sequence[int]) -> list[float]:
    energy_wh = [0.0] * (len(edges) - 1)
    for step in steps:
        index = bisect_right(edges, step.ts_ms) - 1
        if 0 <= index < len(energy_wh):
            energy_wh[index] += step.value
    return energy_wh


@dataclass(frozen=True, slots=True)
class CounterSpan:
    """A rollup tier bucket of counter readings: the first and last reading, the extremes."""

    first: Point
    last: Point
    min: float
    max: float

    @property
    def rising(self) -> bool:
        """Looks non-decreasing: true of every bucket whose readings never fall."""
        return self.min == self.first.value and self.max == self.last.value


Readings = Callable[[int, int], Iterable[Point]]  # readings in [start_ms, end_ms), in time order


def counter_energy_from_spans(
    spans: Iterable[CounterSpan],
    edges: Sequence[int],
    readings: Readings,
    rules: CounterRules | None = None,
) -> list[float]:
    """Wh per bucket as ``counter_energy`` over every reading, from tier buckets (spans).

    Each span must lie inside one bucket (a tier that answers the edges exactly),
    spans in time order. A span that looks rising and starts with no drop
    pending gives the rules the same steps from its first and last reading as
    from all of them; any other span (a drop inside it, or a drop still
    undecided when it starts) is replayed reading by reading from ``readings``.
    The one case the extremes cannot reveal is a reset inside a span after which
    the counter climbs past the span's earlier maximum within the same span:
    it is counted as a bogus drop, so energy is under-counted, never spiked.
    """
    return _per_bucket(_span_steps(spans, readings, rules or CounterRules()), edges)


def _span_steps(
    spans: Iterable[CounterSpan], readings: Readings, rules: CounterRules
) -> Iterator[Point]:
    counter = _Counter(rules)
    for span in spans:
        step = counter.feed(span.first)
        if step is not None:
            yield step
        if span.last.ts_ms == span.first.ts_ms:
            continue
        if counter.pending_low is None and span.rising:
            points: Iterable[Point] = (span.last,)
        else:
            points = readings(span.first.ts_ms + 1, span.last.ts_ms + 1)
        for point in points:
            step = counter.feed(point)
            if step is not None:
                yield step


def power_energy(
    points: Iterable[Point], edges: Sequence[int], max_gap_s: float = DEFAULT_MAX_GAP_S
) -> list[float]:
    """Wh per bucket by the trapezoid rule over power_w readings.

    Segments longer than max_gap_s are not bridged. A segment crossing an edge is
    split there, with the power at the edge interpolated linearly.
    """
    energy_wh = [0.0] * (len(edges) - 1)
    max_gap_ms = max_gap_s * 1000
    previous: Point | None = None
    for point in points:
        if previous is not None and 0 < point.ts_ms - previous.ts_ms <= max_gap_ms:
            _add_segment(energy_wh, edges, previous, point)
        previous = point
    return energy_wh


def _add_segment(energy_wh: list[float], edges: Sequence[int], p0: Point, p1: Point) -> None:
    t0, t1 = max(p0.ts_ms, edges[0]), min(p1.ts_ms, edges[-1])
    if t0 >= t1:
        return
    slope = (p1.value - p0.value) / (p1.ts_ms - p0.ts_ms)
    index = bisect_right(edges, t0) - 1
    while index < len(energy_wh) and edges[index] < t1:
        a, b = max(t0, edges[index]), min(t1, edges[index + 1])
        if b > a:
            power_a = p0.value + slope * (a - p0.ts_ms)
            power_b = p0.value + slope * (b - p0.ts_ms)
            energy_wh[index] += (power_a + power_b) / 2 * (b - a) / MS_PER_HOUR
        index += 1


def energy_from_mean_power_w(mean_power_w: float, duration_ms: int) -> float:
    """Wh of a bucket from its mean power (a rollup tier's sum / count) and covered time."""
    return mean_power_w * duration_ms / MS_PER_HOUR
