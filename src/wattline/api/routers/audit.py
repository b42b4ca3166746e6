"""GET /api/v1/audit: the tenant's audit entries, newest first, for its admins."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from wattline.api.cursors import DEFAULT_PAGE, decode_int, encode
from wattline.api.deps import AdminDep, AdminFirstRoute, PrincipalDep, ServicesDep
from wattline.api.paging import CursorParam, LimitParam, page_start
from wattline.api.schemas import NEXT_CURSOR
from wattline.model.times import iso_ms
from wattline.security.audit import AuditEntry

router = APIRouter(
    prefix="/api/v1/audit", tags=["audit"], dependencies=[AdminDep], route_class=AdminFirstRoute
)


class AuditEntryOut(BaseModel):
    seq: int = Field(description="place in the log's one chain")
    ts: str
    actor: str
    source: str | None = Field(description="the client's address")
    action: str = Field(examples=["device.create"])
    object: str = Field(examples=["device:plug-1"])
    summary: dict[str, Any] = Field(description="what changed; never a secret")
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    entries: list[AuditEntryOut]
    count: int = Field(description="entries on this page")
    next_cursor: str | None = Field(default=None, description=NEXT_CURSOR)


def entry_out(entry: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        seq=entry.seq,
        ts=iso_ms(entry.ts_ms),
        actor=entry.actor,
        source=entry.source,
        action=entry.action,
        object=entry.object,
        summary=entry.summary,
        prev_hash=entry.prev_hash,
        hash=entry.hash,
    )


@router.get(
    "",
    responses={
        422: {"description": "a malformed cursor"},
        501: {"description": "no audit log in this process"},
    },
)
def list_audit(
    principal: PrincipalDep,
    services: ServicesDep,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_PAGE,
    action: Annotated[
        str | None, Query(max_length=64, description="only this action, e.g. device.delete")
    ] = None,
) -> AuditPage:
    """Changes made in the caller's tenant, newest first: pass ``next_cursor`` back as ``cursor``.

    `wattline audit verify` checks the whole log's hash chain.
    """
    if services.audit_log is None:
        raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, "no audit log in this process")
    before = page_start(lambda text: decode_int("audit", text, "seq"), cursor)
    entries = services.audit_log.audit_page(principal.tenant_id, before, limit + 1, action)
    page = entries[:limit]
    next_cursor = encode("audit", page[-1].seq) if len(entries) > limit else None
    return AuditPage(entries=[entry_out(e) for e in page], count=len(page), next_cursor=next_cursor)
