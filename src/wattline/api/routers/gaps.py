from __future__ import annotations

from fastapi import APIRouter

from wattline.api.cursors import DEFAULT_PAGE, decode_pair, encode
from wattline.api.deps import AdminFirstRoute, PrincipalDep, StoreDep, require
from wattline.api.paging import CursorParam, LimitParam, page_start
from wattline.api.schemas import GapOut, SequenceOut
from wattline.api.tenancy import check_readable
from wattline.model.times import iso_ms
from wattline.security.roles import Role
from wattline.storage.base import DedupCounts

router = APIRouter(
    prefix="/api/v1/devices",
    tags=["telemetry"],
    dependencies=[require(Role.VIEWER)],
    route_class=AdminFirstRoute,
)


@router.get(
    "/{device_id}/gaps",
    responses={404: {"description": "no such device"}, 422: {"description": "a malformed cursor"}},
)
def get_gaps(
    device_id: str,
    store: StoreDep,
    principal: PrincipalDep,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_PAGE,
) -> SequenceOut:
    """Missing sequence ranges: messages the device sent that never arrived (yet).

    Gaps come in (boot, first_seq) order, a page at a time: pass ``next_cursor``
    back as ``cursor``. ``missing`` counts every open gap, not only this page's.
    """
    after = page_start(lambda text: decode_pair("gaps", text, "(boot, first_seq)"), cursor)
    check_readable(store, principal, device_id)
    state = store.sequence_state(device_id)
    counts = store.dedup_counts(device_id) or DedupCounts(0, 0)
    if state is None:
        return SequenceOut(
            device_id=device_id,
            boot=0,
            next_seq=None,
            resets=0,
            duplicates=0,
            duplicate_samples=counts.duplicate_samples,
            corrected_samples=counts.corrected_samples,
            missing=0,
            gaps=[],
        )
    # At most MAX_GAPS (model/sequence.py) per device, stored as one JSON value:
    # the keyset is applied here, on (boot, first_seq), which a filled gap never changes.
    ordered = sorted(state.gaps, key=lambda g: (g.boot, g.first_seq))
    remaining = [g for g in ordered if after is None or (g.boot, g.first_seq) > after]
    page = remaining[:limit]
    last = page[-1] if page else None
    return SequenceOut(
        device_id=device_id,
        boot=state.boot,
        next_seq=state.next_seq,
        resets=state.resets,
        duplicates=state.duplicates,
        duplicate_samples=counts.duplicate_samples,
        corrected_samples=counts.corrected_samples,
        missing=sum(g.missing for g in state.gaps),
        gaps=[
            GapOut(
                boot=g.boot,
                first_seq=g.first_seq,
                last_seq=g.last_seq,
                missing=g.missing,
                detected_at=iso_ms(g.detected_ms),
            )
            for g in page
        ],
        next_cursor=(
            encode("gaps", last.boot, last.first_seq)
            if last is not None and len(remaining) > limit
            else None
        ),
    )
