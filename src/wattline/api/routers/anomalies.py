"""Anomaly findings: listed with filters, and a device scanned on demand."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from wattline.api.cursors import DEFAULT_PAGE, decode_int, encode
from wattline.api.deps import AdminFirstRoute, PrincipalDep, ServicesDep, StoreDep, require
from wattline.api.intelligence_deps import IntelligenceDep, need_intelligence, need_scanner
from wattline.api.paging import CursorParam, LimitParam, page_start
from wattline.api.params import parse_time_ms
from wattline.api.schemas import NEXT_CURSOR
from wattline.api.tenancy import readable_device
from wattline.model.findings import AnomalyKind, Finding
from wattline.model.times import iso_ms
from wattline.security.roles import Role
from wattline.storage.sql.intelligence import FindingFilter

router = APIRouter(tags=["anomalies"], route_class=AdminFirstRoute)


class FindingOut(BaseModel):
    id: int | None = Field(description="null for a scan's findings before they are stored")
    device_id: str
    kind: AnomalyKind
    metric: str
    start: str
    end: str
    score: float = Field(description="how far outside the expected range, in robust spreads")
    observed: float
    expected_low: float
    expected_high: float
    unit: str
    explanation: str
    detector_version: str
    found: str | None = None


class FindingPage(BaseModel):
    findings: list[FindingOut]
    count: int
    next_cursor: str | None = Field(default=None, description=NEXT_CURSOR)


class ScanOut(BaseModel):
    device_id: str
    findings: list[FindingOut]
    new: int = Field(description="findings not stored before")


def finding_out(
    finding: Finding, finding_id: int | None = None, found_ms: int | None = None
) -> FindingOut:
    return FindingOut(
        id=finding_id,
        device_id=finding.device_id,
        kind=finding.kind,
        metric=finding.metric,
        start=iso_ms(finding.start_ms),
        end=iso_ms(finding.end_ms),
        score=finding.score,
        observed=finding.observed,
        expected_low=finding.expected_low,
        expected_high=finding.expected_high,
        unit=finding.unit,
        explanation=finding.explanation,
        detector_version=finding.detector_version,
        found=None if found_ms is None else iso_ms(found_ms),
    )


def _time(text: str | None, name: str) -> int | None:
    if text is None:
        return None
    try:
        return parse_time_ms(text, name)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


@router.get(
    "/api/v1/anomalies",
    dependencies=[require(Role.VIEWER)],
    responses={
        501: {"description": "no intelligence services in this process"},
        404: {"description": "no such device"},
        422: {"description": "a bad filter"},
    },
)
def list_anomalies(  # noqa: PLR0913, PLR0917 - the documented query parameters
    principal: PrincipalDep,
    store: StoreDep,
    intelligence: IntelligenceDep,
    device: Annotated[str | None, Query(max_length=64, description="one device's findings")] = None,
    kind: Annotated[AnomalyKind | None, Query(description="one kind of anomaly")] = None,
    since: Annotated[
        str | None, Query(description="findings ending after (ISO 8601 or epoch ms)")
    ] = None,
    until: Annotated[str | None, Query(description="findings starting before")] = None,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_PAGE,
) -> FindingPage:
    """The tenant's anomaly findings, newest first; pass ``next_cursor`` back as ``cursor``."""
    if device is not None:
        readable_device(store, principal, device)
    where = FindingFilter(device, kind, _time(since, "since"), _time(until, "until"))
    before = page_start(lambda text: decode_int("anomalies", text, "finding id"), cursor)
    rows = intelligence.findings_page(principal.tenant_id, where, before, limit + 1)
    page = rows[:limit]
    return FindingPage(
        findings=[finding_out(r.finding, r.id, r.found_ms) for r in page],
        count=len(page),
        next_cursor=encode("anomalies", page[-1].id) if len(rows) > limit else None,
    )


@router.post(
    "/api/v1/devices/{device_id}/anomalies/scan",
    dependencies=[require(Role.OPERATOR)],
    responses={
        501: {"description": "no intelligence services in this process"},
        404: {"description": "no such device"},
    },
)
def scan_device(
    device_id: str,
    principal: PrincipalDep,
    store: StoreDep,
    services: ServicesDep,
) -> ScanOut:
    """Run the detectors over the device's last week now (the schedule does it hourly)."""
    readable_device(store, principal, device_id, Role.OPERATOR)
    intelligence, scanner = need_intelligence(services), need_scanner(services)
    now_ms = time.time_ns() // 1_000_000
    findings = scanner.scan(device_id, now_ms)
    # a device shared from another tenant: its findings belong to the owner's tenant
    owner = store.get_device(device_id, tenant_id=principal.tenant_id)
    new = intelligence.record_findings(principal.tenant_id, findings, now_ms) if owner else 0
    return ScanOut(device_id=device_id, findings=[finding_out(f) for f in findings], new=new)
