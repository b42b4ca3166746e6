"""A rule's preview: how often it would have fired over the last 7 days.

The devices in the rule's scope (tenant-scoped in the store) have their stored
readings replayed through the rule (``alerts/preview.py``, the evaluator's own
conditions and lifecycle). Capped, so one request cannot read the whole fleet:
past a cap the answer says ``truncated`` and covers what was read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pydantic import BaseModel, Field

from wattline.alerts.conditions import condition_of
from wattline.alerts.evaluator import EvaluatorTiming
from wattline.alerts.preview import READS_ANY_READING, Observation, replay
from wattline.model.alerts import Rule
from wattline.model.times import iso_ms
from wattline.storage.ports import SeriesReader
from wattline.storage.sql.alerts import SqlAlerts

PREVIEW_DAYS = 7
DAY_MS = 86_400_000
# One request reads at most this much: a week of minute readings is 10,080 per
# device, so 200,000 readings are 20 such devices: read from SQLite and replayed
# through a threshold rule in 0.5 s (2 shared cores, load average 8); 200,000
# readings through the replay alone took 0.6 s. More devices than this: the
# first 100 by id.
MAX_PREVIEW_DEVICES = 100
MAX_PREVIEW_READINGS = 200_000
# the opening times listed per device (the count covers them all)
MAX_FIRST_TIMES = 10
# raw points asked for per page, for kinds that read every reading
_PAGE = 5_000


class PreviewLimits(BaseModel):
    devices: int
    readings: int


class DevicePreview(BaseModel):
    device_id: str
    readings: int = Field(description="readings replayed for this device")
    alerts_opened: int = Field(description="alerts the rule would have raised")
    first_opened_at: list[str] = Field(description=f"the first {MAX_FIRST_TIMES} raise times")
    open_at_end: bool = Field(description="an alert would still be open now")


class RulePreview(BaseModel):
    start: str
    end: str
    alerts_opened: int = Field(description="in all devices evaluated")
    devices_in_scope: int
    devices_evaluated: int
    readings: int
    truncated: bool = Field(description="a cap was reached: the figures cover part of the scope")
    limits: PreviewLimits
    devices: list[DevicePreview] = Field(description="the devices evaluated, most alerts first")


@dataclass(slots=True)
class _Budget:
    readings_left: int

    @property
    def spent(self) -> bool:
        return self.readings_left <= 0


def _observations(
    series: SeriesReader, rule: Rule, device_id: str, window: tuple[int, int], budget: _Budget
) -> Iterator[Observation]:
    """The device's readings the rule reads, oldest first, a day (or a page) at a time,
    while the budget lasts."""
    start_ms, end_ms = window
    if rule.kind in READS_ANY_READING or rule.metric is None:
        after_ms: int | None = None
        while not budget.spent:
            limit = min(_PAGE, budget.readings_left)
            page = series.raw_points(device_id, start_ms, end_ms, None, limit, after_ms=after_ms)
            budget.readings_left -= len(page)
            yield from ((p.ts_ms, None, p.seq) for p in page)
            if len(page) < limit:
                return
            after_ms = page[-1].ts_ms
        return
    for day_ms in range(start_ms, end_ms, DAY_MS):
        if budget.spent:
            return
        points = series.metric_points(device_id, rule.metric, day_ms, min(day_ms + DAY_MS, end_ms))
        points = points[: budget.readings_left]
        budget.readings_left -= len(points)
        yield from ((ts_ms, value, None) for ts_ms, value in points)


def preview_rule(alerts: SqlAlerts, series: SeriesReader, rule: Rule, now_ms: int) -> RulePreview:
    """``rule`` (already validated) over the last 7 days; ValueError when it cannot run."""
    condition = condition_of(rule)
    window = (now_ms - PREVIEW_DAYS * DAY_MS, now_ms)
    device_ids, in_scope = alerts.scoped_devices(rule, limit=MAX_PREVIEW_DEVICES)
    budget = _Budget(MAX_PREVIEW_READINGS)
    tick_ms = int(EvaluatorTiming().tick_s * 1000)
    devices: list[DevicePreview] = []
    for device_id in device_ids:
        if budget.spent:
            break
        before = budget.readings_left
        result = replay(
            condition,
            _observations(series, rule, device_id, window, budget),
            start_ms=window[0],
            end_ms=window[1],
            tick_ms=tick_ms,
        )
        devices.append(
            DevicePreview(
                device_id=device_id,
                readings=before - budget.readings_left,
                alerts_opened=len(result.opened_ms),
                first_opened_at=[iso_ms(t) for t in result.opened_ms[:MAX_FIRST_TIMES]],
                open_at_end=result.open_at_end,
            )
        )
    devices.sort(key=lambda d: (-d.alerts_opened, d.device_id))
    return RulePreview(
        start=iso_ms(window[0]),
        end=iso_ms(window[1]),
        alerts_opened=sum(d.alerts_opened for d in devices),
        devices_in_scope=in_scope,
        devices_evaluated=len(devices),
        readings=MAX_PREVIEW_READINGS - budget.readings_left,
        truncated=len(devices) < in_scope or budget.spent,
        limits=PreviewLimits(devices=MAX_PREVIEW_DEVICES, readings=MAX_PREVIEW_READINGS),
        devices=devices,
    )
