from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from wattline.api.deps import AdminDep, AdminFirstRoute, StoreDep
from wattline.api.schemas import GapOut, SequenceOut
from wattline.model.times import iso_ms

router = APIRouter(
    prefix="/api/v1/devices",
    tags=["telemetry"],
    dependencies=[AdminDep],
    route_class=AdminFirstRoute,
)


@router.get("/{device_id}/gaps", responses={404: {"description": "no such device"}})
def get_gaps(device_id: str, store: StoreDep) -> SequenceOut:
    """Missing sequence ranges: messages the device sent that never arrived (yet)."""
    if store.get_device(device_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"device {device_id!r} is not registered")
    state = store.sequence_state(device_id)
    if state is None:
        return SequenceOut(
            device_id=device_id, boot=0, next_seq=None, resets=0, duplicates=0, missing=0, gaps=[]
        )
    gaps = [
        GapOut(
            boot=g.boot,
            first_seq=g.first_seq,
            last_seq=g.last_seq,
            missing=g.missing,
            detected_at=iso_ms(g.detected_ms),
        )
        for g in state.gaps
    ]
    return SequenceOut(
        device_id=device_id,
        boot=state.boot,
        next_seq=state.next_seq,
        resets=state.resets,
        duplicates=state.duplicates,
        missing=sum(g.missing for g in gaps),
        gaps=gaps,
    )
