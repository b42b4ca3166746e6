"""Keyset (seek) queries for paged lists: each page starts after the last key served.

Never OFFSET: a page deep into 20,000 devices costs the same index seek as
the first, and a row inserted or deleted between two requests neither repeats
nor skips a row of the key order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import ColumnElement, Select, and_, case, false, or_, select

from wattline.model.messages import ConnectionState
from wattline.storage import schema


@dataclass(frozen=True, slots=True)
class DeviceFilter:
    """What a device list may be narrowed to; None means any."""

    device_type: str | None = None
    tag: str | None = None
    # the status the API reports: the device's own state unless silent too long
    status: ConnectionState | None = None
    now_ms: int = 0
    offline_after_ms: int = 0
    # a part of the device's id, type or one of its tags, any case
    search: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceSummary:
    """A tenant's fleet at a glance: what the fleet page shows before any row."""

    total: int
    by_status: dict[str, int]
    # devices with no latest value at all
    without_readings: int
    types: list[str]
    tags: list[str]


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def device_page_query(
    tenant_id: str, after: str | None, limit: int, where: DeviceFilter
) -> Select[tuple[object]]:
    """The tenant's devices after ``after`` in id order (ix_devices_tenant serves it)."""
    d = schema.devices.c
    query = select(schema.devices).where(d.tenant_id == tenant_id).order_by(d.device_id)
    query = query.limit(limit)
    if after is not None:
        query = query.where(d.device_id > after)
    if where.device_type is not None:
        query = query.where(d.device_type == where.device_type)
    if where.tag is not None:
        # Tags are stored as a JSON list of strings, each matching [A-Za-z0-9_.:-]
        # (api/schemas.py), so the quoted tag is a unique substring; "_" is escaped.
        pattern = '%"' + where.tag.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(d.tags.like(pattern + '"%', escape="\\"))
    if where.status is not None:
        query = query.where(_status_is(where))
    if where.search:
        # the tags' JSON quotes and commas are outside the search alphabet (routers/devices.py)
        pattern = f"%{_like_escaped(where.search)}%"
        query = query.where(
            or_(
                d.device_id.ilike(pattern, escape="\\"),
                d.device_type.ilike(pattern, escape="\\"),
                d.tags.ilike(pattern, escape="\\"),
            )
        )
    return query


def status_of(now_ms: int, offline_after_ms: int) -> ColumnElement[str]:
    """The status ``_status_is`` tests, as one SQL expression (for counts by status)."""
    where = DeviceFilter(now_ms=now_ms, offline_after_ms=offline_after_ms)
    return case(
        (_status_is(replace(where, status=ConnectionState.ONLINE)), ConnectionState.ONLINE.value),
        (_status_is(replace(where, status=ConnectionState.UNKNOWN)), ConnectionState.UNKNOWN.value),
        else_=ConnectionState.OFFLINE.value,
    )


def _status_is(where: DeviceFilter) -> ColumnElement[bool]:
    """SQL for api/routers/devices.py ``connection_status`` equal to ``where.status``."""
    d = schema.devices.c
    recent = d.last_seen_ms >= where.now_ms - where.offline_after_ms
    believed = d.state.in_([ConnectionState.ONLINE.value, ConnectionState.UNKNOWN.value])
    if where.status is ConnectionState.ONLINE:
        return and_(believed, d.last_seen_ms.is_not(None), recent)
    if where.status is ConnectionState.OFFLINE:
        return or_(
            d.state == ConnectionState.OFFLINE.value,
            and_(believed, d.last_seen_ms.is_not(None), ~recent),
            and_(d.state == ConnectionState.ONLINE.value, d.last_seen_ms.is_(None)),
        )
    if where.status is ConnectionState.UNKNOWN:
        return and_(d.state == ConnectionState.UNKNOWN.value, d.last_seen_ms.is_(None))
    return false()


def raw_timestamps_query(  # noqa: PLR0913 - the range, its filter and the page
    device_id: str,
    start_ms: int,
    end_ms: int,
    fields: Sequence[str] | None,
    limit: int,
    *,
    after_ms: int | None,
    descending: bool,
) -> tuple[list[ColumnElement[bool]], Select[tuple[int]]]:
    """The page's filter on samples, and the subquery of its first ``limit`` timestamps.

    Pages limit whole readings (timestamps), not sample rows, so no reading is
    cut in half and a cursor on the last timestamp resumes exactly after it.
    """
    s = schema.samples.c
    in_range = [s.device_id == device_id, s.ts_ms >= start_ms, s.ts_ms < end_ms]
    if fields:
        in_range.append(s.metric.in_(list(fields)))
    if after_ms is not None:
        in_range.append(s.ts_ms < after_ms if descending else s.ts_ms > after_ms)
    order = s.ts_ms.desc() if descending else s.ts_ms
    first_ts = select(s.ts_ms).where(*in_range).distinct().order_by(order).limit(limit)
    return in_range, first_ts
