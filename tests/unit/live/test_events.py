"""A committed batch as live events: owned devices only, statuses and hellos first,
readings in commit order with their tenant, type and tags from the owner."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from wattline.live.events import EventKind, LiveEvent, decode_batch, encode_batch, events_of
from wattline.model.events import Committed
from wattline.model.messages import ConnectionState, Hello, Reading, StatusReport
from wattline.storage.sql.owners import DeviceOwner

OWNERS = {
    "m1": DeviceOwner("acme", "meter", ("roof",)),
    "m2": DeviceOwner("other", None, ()),
}
readings = st.builds(
    Reading,
    st.sampled_from(["m1", "m2", "gone"]),  # "gone": deleted before the look-up
    st.integers(min_value=0, max_value=2**53),
    st.dictionaries(
        st.sampled_from(["power_w", "voltage_v"]),
        st.floats(allow_nan=False, allow_infinity=False),  # ingest takes finite values only
        min_size=1,
    ),
    seq=st.none() | st.integers(min_value=0, max_value=2**40),
)


@given(st.lists(readings, max_size=20))
def test_readings_of_owned_devices_in_commit_order(batch: list[Reading]) -> None:
    events = events_of(Committed(readings=batch), OWNERS, now_ms=0)
    owned = [r for r in batch if r.device_id in OWNERS]
    assert events == [
        LiveEvent(
            EventKind.READING,
            OWNERS[r.device_id].tenant_id,
            r.device_id,
            r.ts_ms,
            {"metrics": r.metrics, "seq": r.seq},
            OWNERS[r.device_id].device_type,
            OWNERS[r.device_id].tags,
        )
        for r in owned
    ]
    assert decode_batch(encode_batch(events)) == events  # as the Redis bus carries them


def test_statuses_and_hellos_come_before_readings() -> None:
    committed = Committed(
        readings=(Reading("m1", 5, {"power_w": 1.0}, seq=1),),
        hellos=(Hello("m2", "plug", "1.0", ("relay",)),),
        statuses=(StatusReport("m1", ConnectionState.ONLINE, 4),),
        seen_ms={"m2": 3},
    )
    kinds = [(e.kind, e.device_id, e.ts_ms) for e in events_of(committed, OWNERS, now_ms=9)]
    assert kinds == [
        (EventKind.STATUS, "m2", 3),
        (EventKind.STATUS, "m1", 4),
        (EventKind.READING, "m1", 5),
    ]
