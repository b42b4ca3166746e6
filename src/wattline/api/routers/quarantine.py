from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from wattline.api.audit_trail import AuditDep
from wattline.api.cursors import DEFAULT_PAGE, decode_int, encode
from wattline.api.deps import AdminFirstRoute, ServicesDep, StoreDep, require
from wattline.api.paging import CursorParam, LimitParam, page_start
from wattline.api.schemas import QuarantineList, QuarantineOut, ReplayOut, ReplayRequest
from wattline.model.messages import RejectReason
from wattline.model.times import iso_ms
from wattline.security.roles import Role

# Quarantined messages belong to no tenant: many come from devices nobody
# registered. They are the platform's, so only the default tenant's admins
# (the admin token among them) list and replay them.
router = APIRouter(
    prefix="/api/v1/quarantine",
    tags=["quarantine"],
    dependencies=[require(Role.ADMIN, platform=True)],
    route_class=AdminFirstRoute,
)


@router.get("")
def list_quarantine(
    store: StoreDep,
    limit: LimitParam = DEFAULT_PAGE,
    reason: Annotated[RejectReason | None, Query(description="only this reason")] = None,
    cursor: CursorParam = None,
) -> QuarantineList:
    """Rejected messages, newest first, with the reason and the start of the raw payload.

    A page at a time: pass ``next_cursor`` back as ``cursor``.
    """
    before_id = page_start(lambda text: decode_int("quarantine", text, "quarantine id"), cursor)
    fetched = store.quarantine(limit + 1, reason.value if reason else None, before_id=before_id)
    records = fetched[:limit]
    return QuarantineList(
        next_cursor=encode("quarantine", records[-1].id) if len(fetched) > limit else None,
        items=[
            QuarantineOut(
                id=r.id,
                received_at=iso_ms(r.received_ms),
                topic=r.topic,
                reason=r.reason,
                detail=r.detail,
                payload_size=len(r.payload),
                occurrences=r.occurrences,
                last_received_at=iso_ms(r.last_received_ms or r.received_ms),
                payload_preview=r.payload[:256].decode("utf-8", errors="replace"),
            )
            for r in records
        ],
    )


@router.post("/replay", responses={501: {"description": "no ingest pipeline in this process"}})
def replay_quarantine(
    body: ReplayRequest, store: StoreDep, services: ServicesDep, audit: AuditDep
) -> ReplayOut:
    """Run quarantined messages through today's rules and registry, for example after
    registering an unknown device. Accepted ones are stored and leave the quarantine.
    Ask for `ids`, a `reason` or `all: true`; ids not in the quarantine are listed
    in `not_found`."""
    if services.replay is None:
        raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, "replay needs the ingest pipeline")
    if body.reason is not None and body.reason not in {r.value for r in RejectReason}:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"reason {body.reason!r} is not one of {sorted(r.value for r in RejectReason)}",
        )
    limit = len(body.ids) if body.ids is not None else body.limit
    records = store.quarantine(limit, body.reason, body.ids) if limit else []
    found = {r.id for r in records}
    report = services.replay(records)
    audit.record(
        "quarantine.replay",
        "quarantine",
        {"replayed": len(records), "accepted": len(report.accepted)},
    )
    return ReplayOut(
        accepted=report.accepted,
        still_rejected=report.still_rejected,
        not_found=sorted(set(body.ids or ()) - found),
        samples_stored=report.result.samples_inserted,
    )
