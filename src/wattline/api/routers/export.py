"""Samples as a streamed CSV or Parquet download."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import StreamingResponse

from wattline.api.deps import AdminFirstRoute, PrincipalDep, StoreDep, require
from wattline.api.params import default_start_ms, parse_fields, parse_time_ms
from wattline.api.tenancy import share_user
from wattline.model.calendar import parse_tz
from wattline.security.roles import Role
from wattline.transfer.export import ExportFormat, iter_export_bytes, plan_export

router = APIRouter(
    prefix="/api/v1",
    tags=["export"],
    dependencies=[require(Role.VIEWER)],
    route_class=AdminFirstRoute,
)

DEFAULT_RANGE_MS = 86_400_000


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}},
)
def get_export(  # noqa: PLR0913, PLR0917 - the documented query parameters
    store: StoreDep,
    principal: PrincipalDep,
    start: Annotated[
        str | None, Query(description="ISO 8601 or epoch ms; default end - 24 h")
    ] = None,
    end: Annotated[
        str | None, Query(description="ISO 8601 or epoch ms, exclusive; default now")
    ] = None,
    devices: Annotated[
        str | None,
        Query(description="comma-separated ids; default all of your tenant's devices"),
    ] = None,
    format: Annotated[ExportFormat, Query(description="csv or parquet")] = ExportFormat.CSV,  # noqa: A002
    tz: Annotated[str, Query(description="time zone of day_of_week and hour_of_day")] = "UTC",
) -> StreamingResponse:
    """One row per device and timestamp, a column per metric; streamed page by page."""
    try:
        end_ms = parse_time_ms(end, "end") if end else time.time_ns() // 1_000_000 + 1
        start_ms = (
            parse_time_ms(start, "start") if start else default_start_ms(end_ms, DEFAULT_RANGE_MS)
        )
        zone = parse_tz(tz)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    if start_ms >= end_ms:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "start must be before end")
    wanted = parse_fields(devices)
    if wanted is None:
        wanted = [d.device_id for d in store.list_devices(tenant_id=principal.tenant_id)]
    else:
        readable = store.readable_device_ids(
            wanted, tenant_id=principal.tenant_id, user_id=share_user(principal)
        )
        unknown = sorted(set(wanted) - readable)
        if unknown:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"unknown devices: {', '.join(unknown[:20])}"
            )
    try:
        spec = plan_export(store, start_ms, end_ms, wanted, tz=zone)
    except ValueError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    return StreamingResponse(
        iter_export_bytes(store, spec, format),
        media_type=format.media_type,
        headers={"Content-Disposition": f'attachment; filename="{spec.file_name(format)}"'},
    )
