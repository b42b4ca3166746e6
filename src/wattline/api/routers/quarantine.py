from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from wattline.api.deps import AdminDep, StoreDep
from wattline.api.params import iso_ms
from wattline.api.schemas import QuarantineList, QuarantineOut
from wattline.model.messages import RejectReason

router = APIRouter(prefix="/api/v1/quarantine", tags=["quarantine"], dependencies=[AdminDep])


@router.get("")
def list_quarantine(
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    reason: Annotated[RejectReason | None, Query(description="only this reason")] = None,
) -> QuarantineList:
    """Rejected messages, newest first, with the reason and the start of the raw payload."""
    records = store.quarantine(limit, reason.value if reason else None)
    return QuarantineList(
        items=[
            QuarantineOut(
                id=r.id,
                received_at=iso_ms(r.received_ms),
                topic=r.topic,
                reason=r.reason,
                detail=r.detail,
                payload_size=len(r.payload),
                payload_preview=r.payload[:256].decode("utf-8", errors="replace"),
            )
            for r in records
        ]
    )
