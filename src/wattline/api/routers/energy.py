"""kWh per bucket for one device or a fleet, from counters or integrated power."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Annotated, Literal, Protocol
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from wattline.analytics.energy import (
    COUNTER_METRICS,
    DEFAULT_MAX_GAP_S,
    POWER_METRICS,
    CounterRules,
    CounterSpan,
    Method,
    Point,
    Readings,
    choose_source,
    counter_energy,
    counter_energy_from_spans,
    power_energy,
)
from wattline.api.deps import AdminFirstRoute, PrincipalDep, StoreDep, require
from wattline.api.fleet import All, Devices, DeviceType, Tag, select_fleet
from wattline.api.params import check_bucket_range, default_start_ms, parse_time_ms
from wattline.api.tenancy import check_readable
from wattline.model.calendar import bucket_edges, parse_interval, parse_tz
from wattline.model.times import iso_ms
from wattline.security.roles import Role
from wattline.storage import bucketing
from wattline.storage.ports import TelemetryStore
from wattline.storage.series import iter_points

router = APIRouter(
    tags=["energy"], dependencies=[require(Role.VIEWER)], route_class=AdminFirstRoute
)

DEFAULT_RANGE_MS = 7 * 86_400_000
# A response of this many buckets is still a few MB of JSON at most.
MAX_BUCKETS = 50_000
# Counter readings this far before `start` set the reference the first step is
# measured from; without one the energy up to the first reading in range is lost.
COUNTER_WARMUP_MS = 86_400_000

Source = Literal["auto", "counter", "power"]


class EnergyBucketOut(BaseModel):
    start: str = Field(description="bucket start (UTC); its edges follow the local calendar of tz")
    end: str
    kwh: float


class DeviceEnergyOut(BaseModel):
    device_id: str
    method: str | None = Field(description="counter or power; null: the device has neither")
    metric: str | None
    total_kwh: float


class EnergyOut(BaseModel):
    device_id: str
    method: str
    metric: str
    interval: str
    tz: str
    start: str
    end: str
    total_kwh: float
    buckets: list[EnergyBucketOut]


class FleetEnergyOut(BaseModel):
    interval: str
    tz: str
    start: str
    end: str
    total_kwh: float
    buckets: list[EnergyBucketOut]
    devices: list[DeviceEnergyOut]


class _Query:
    """Validated common parameters: bucket edges in UTC ms, zone, rules."""

    def __init__(  # noqa: PLR0913, PLR0917 - the documented query parameters
        self,
        start: str | None,
        end: str | None,
        interval: str,
        tz: str,
        source: Source,
        metric: str | None,
        max_gap_s: float,
        wrap_wh: float | None,
    ) -> None:
        try:
            end_ms = parse_time_ms(end, "end") if end else time.time_ns() // 1_000_000
            start_ms = (
                parse_time_ms(start, "start")
                if start
                else default_start_ms(end_ms, DEFAULT_RANGE_MS)
            )
            self.interval = parse_interval(interval)
            self.interval_text = interval.strip()
            self.tz: ZoneInfo = parse_tz(tz) or ZoneInfo("UTC")
            check_bucket_range(start_ms, end_ms, self.interval.longest_ms, interval)
            # bucket_edges refuses an empty range and too many buckets
            self.edges = bucket_edges(start_ms, end_ms, self.interval, self.tz, MAX_BUCKETS)
        except ValueError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
        self.source = source
        self.metric = metric
        self.max_gap_s = max_gap_s
        self.rules = CounterRules(wrap_wh=wrap_wh)

    def buckets(self, energy_wh: list[float]) -> list[EnergyBucketOut]:
        return [
            EnergyBucketOut(start=iso_ms(a), end=iso_ms(b), kwh=wh / 1000)
            for a, b, wh in zip(self.edges, self.edges[1:], energy_wh, strict=False)
        ]


Found = tuple[Method, str, list[float]]  # method, metric, Wh per bucket


class EnergyPlan(Protocol):
    """What ``fleet_energy_wh`` reads of a query: the edges, the series, the rules."""

    @property
    def edges(self) -> Sequence[int]: ...
    @property
    def source(self) -> Source: ...
    @property
    def metric(self) -> str | None: ...
    @property
    def max_gap_s(self) -> float: ...
    @property
    def rules(self) -> CounterRules: ...


def fleet_energy_wh(
    store: TelemetryStore, device_ids: Sequence[str], query: EnergyPlan
) -> dict[str, Found | None]:
    """Wh per bucket with the method and metric used, per device; None: no such series.

    Counters are read from the coarsest rollup tier that fits the buckets, one
    query for every device sharing a counter metric; power is integrated from
    raw readings.
    """
    latest = store.latest_values(device_ids)
    found: dict[str, Found | None] = {}
    counters: dict[str, list[str]] = {}  # counter metric -> devices
    for device_id in device_ids:
        metrics = {v.metric for v in latest.get(device_id, [])}
        chosen = choose_source(metrics, query.source, query.metric)
        if chosen is None:
            found[device_id] = None
        elif chosen[0] is Method.COUNTER:
            counters.setdefault(chosen[1], []).append(device_id)
        else:
            found[device_id] = (
                Method.POWER,
                chosen[1],
                _power_wh(store, device_id, chosen[1], query),
            )
    for metric, devices in counters.items():
        for device_id, energy_wh in _counter_wh(store, devices, metric, query).items():
            found[device_id] = (Method.COUNTER, metric, energy_wh)
    return {device_id: found[device_id] for device_id in device_ids}


def _counter_wh(
    store: TelemetryStore, device_ids: list[str], metric: str, query: EnergyPlan
) -> dict[str, list[float]]:
    first_ms, last_ms = query.edges[0] - COUNTER_WARMUP_MS, query.edges[-1]

    def readings(device_id: str) -> Readings:
        def between(start_ms: int, end_ms: int) -> Iterator[Point]:
            return (
                Point(ts, value)
                for ts, value in store.metric_points(device_id, metric, start_ms, end_ms)
            )

        return between

    # The warm-up is a whole day, so it keeps the edges on a tier's bucket edges.
    tier = bucketing.choose_source(first_ms, last_ms, [first_ms, *query.edges[:-1]])
    if tier is None:
        return {
            d: counter_energy(readings(d)(first_ms, last_ms), query.edges, query.rules)
            for d in device_ids
        }
    # One cell per tier bucket: each is a span of readings inside one energy bucket.
    plan = bucketing.per_tier_bucket(first_ms, last_ms, tier)
    series = store.series(device_ids, plan, [metric], with_ends=True)
    return {
        d: counter_energy_from_spans(
            _spans(series.get(d, []), metric), query.edges, readings(d), query.rules
        )
        for d in device_ids
    }


def _spans(buckets: Sequence[bucketing.SeriesBucket], metric: str) -> Iterator[CounterSpan]:
    for bucket in buckets:
        a = bucket.metrics[metric]
        first, last = Point(a.first_ts_ms, a.first_value), Point(a.last_ts_ms, a.last_value)
        yield CounterSpan(first, last, a.min, a.max)


def _power_wh(store: TelemetryStore, device_id: str, metric: str, query: EnergyPlan) -> list[float]:
    # Readings just outside the range let the edge buckets interpolate to their edges.
    first_ms, last_ms = query.edges[0], query.edges[-1]
    gap_ms = int(query.max_gap_s * 1000)
    raw = iter_points(store, device_id, first_ms - gap_ms, last_ms + gap_ms + 1, [metric])
    points = (Point(p.ts_ms, p.metrics[metric]) for p in raw)
    return power_energy(points, query.edges, query.max_gap_s)


Start = Annotated[str | None, Query(description="ISO 8601 or epoch ms; default end - 7 days")]
End = Annotated[str | None, Query(description="ISO 8601 or epoch ms, exclusive; default now")]
IntervalParam = Annotated[
    str,
    Query(
        description="bucket: Nm or Nh dividing 24h, Nd, Nw or Nmo (1h, 1d, 1mo), "
        "on the same calendar as /telemetry"
    ),
]
Tz = Annotated[str, Query(description="IANA time zone for bucket edges, e.g. Europe/London")]
SourceParam = Annotated[Source, Query(description="auto: the counter if there is one, else power")]
MetricParam = Annotated[
    str | None,
    Query(description=f"series to use; default {', '.join(COUNTER_METRICS + POWER_METRICS)}"),
]
# Bounded so that the read window around the range (gap_s in ms) stays a 64-bit integer.
MAX_GAP_LIMIT_S = 366 * 86_400
MaxGap = Annotated[
    float,
    Query(
        gt=0,
        le=MAX_GAP_LIMIT_S,
        allow_inf_nan=False,
        description="power readings further apart are not bridged",
    ),
]
WrapWh = Annotated[
    float | None,
    Query(
        gt=0,
        le=1e18,
        allow_inf_nan=False,
        description="the counter register's modulus in Wh, e.g. 4294967296",
    ),
]


@router.get("/api/v1/devices/{device_id}/energy", responses={404: {"description": "no device"}})
def get_device_energy(  # noqa: PLR0913, PLR0917 - the documented query parameters
    device_id: str,
    store: StoreDep,
    principal: PrincipalDep,
    start: Start = None,
    end: End = None,
    interval: IntervalParam = "1d",
    tz: Tz = "UTC",
    source: SourceParam = "auto",
    metric: MetricParam = None,
    max_gap_s: MaxGap = DEFAULT_MAX_GAP_S,
    wrap_wh: WrapWh = None,
) -> EnergyOut:
    """kWh per bucket; days, weeks and months follow the local calendar of `tz`."""
    query = _Query(start, end, interval, tz, source, metric, max_gap_s, wrap_wh)
    check_readable(store, principal, device_id)
    found = fleet_energy_wh(store, [device_id], query)[device_id]
    if found is None:
        wanted = metric or ", ".join(
            {"auto": COUNTER_METRICS + POWER_METRICS, "counter": COUNTER_METRICS}.get(
                source, POWER_METRICS
            )
        )
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"device {device_id!r} has no {source} series to compute energy from ({wanted})",
        )
    method, used, energy_wh = found
    return EnergyOut(
        device_id=device_id,
        method=method.value,
        metric=used,
        interval=query.interval_text,
        tz=query.tz.key,
        start=iso_ms(query.edges[0]),
        end=iso_ms(query.edges[-1]),
        total_kwh=sum(energy_wh) / 1000,
        buckets=query.buckets(energy_wh),
    )


@router.get("/api/v1/energy", responses={404: {"description": "unknown devices"}})
def get_fleet_energy(  # noqa: PLR0913, PLR0917 - the documented query parameters
    store: StoreDep,
    principal: PrincipalDep,
    devices: Devices = None,
    device_type: DeviceType = None,
    tag: Tag = None,
    every: All = False,
    start: Start = None,
    end: End = None,
    interval: IntervalParam = "1d",
    tz: Tz = "UTC",
    source: SourceParam = "auto",
    max_gap_s: MaxGap = DEFAULT_MAX_GAP_S,
    wrap_wh: WrapWh = None,
) -> FleetEnergyOut:
    """The devices' kWh summed per bucket (by ids, type, tag or all), with per-device totals."""
    query = _Query(start, end, interval, tz, source, None, max_gap_s, wrap_wh)
    selected = select_fleet(store, principal, devices, device_type, tag, every=every)
    total_wh = [0.0] * (len(query.edges) - 1)
    per_device: list[DeviceEnergyOut] = []
    # One call for the whole fleet: the tier read is one query per counter metric.
    for device_id, found in fleet_energy_wh(store, selected, query).items():
        if found is None:
            per_device.append(
                DeviceEnergyOut(device_id=device_id, method=None, metric=None, total_kwh=0.0)
            )
            continue
        method, used, energy_wh = found
        total_wh = [a + b for a, b in zip(total_wh, energy_wh, strict=True)]
        per_device.append(
            DeviceEnergyOut(
                device_id=device_id,
                method=method.value,
                metric=used,
                total_kwh=sum(energy_wh) / 1000,
            )
        )
    return FleetEnergyOut(
        interval=query.interval_text,
        tz=query.tz.key,
        start=iso_ms(query.edges[0]),
        end=iso_ms(query.edges[-1]),
        total_kwh=sum(total_wh) / 1000,
        buckets=query.buckets(total_wh),
        devices=per_device,
    )
