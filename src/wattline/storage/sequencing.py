"""Loading and saving per-device sequence state inside a commit transaction."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from typing import Any

from sqlalchemy import Connection, select

from wattline.model.sequence import SeqGap, SeqState
from wattline.storage import schema

InsertFactory = Callable[[Any], Any]


def lock_states(
    conn: Connection, insert: InsertFactory, device_ids: Collection[str]
) -> dict[str, SeqState]:
    """Read the devices' states, locking their rows until the transaction ends.

    Rows are created first so that two collectors seeing a new device at once
    serialise on the row lock instead of overwriting each other's state.
    """
    if not device_ids:
        return {}
    conn.execute(
        insert(schema.seq_state).on_conflict_do_nothing(),
        [_row(device_id, SeqState()) for device_id in sorted(device_ids)],
    )
    table = schema.seq_state
    rows = conn.execute(
        select(table).where(table.c.device_id.in_(sorted(device_ids))).with_for_update()
    ).mappings()
    return {row["device_id"]: _state(row) for row in rows}


def save_states(conn: Connection, insert: InsertFactory, states: Mapping[str, SeqState]) -> None:
    if not states:
        return
    statement = insert(schema.seq_state)
    excluded = statement.excluded
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["device_id"],
            set_={c.name: excluded[c.name] for c in schema.seq_state.c if c.name != "device_id"},
        ),
        [_row(device_id, state) for device_id, state in states.items()],
    )


def read_state(conn: Connection, device_id: str) -> SeqState | None:
    table = schema.seq_state
    row = conn.execute(select(table).where(table.c.device_id == device_id)).mappings().first()
    return _state(row) if row else None


def _row(device_id: str, state: SeqState) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "boot": state.boot,
        "next_seq": state.next_seq,
        "boot_first_ts_ms": state.boot_first_ts_ms,
        "last_ts_ms": state.last_ts_ms,
        "resets": state.resets,
        "duplicates": state.duplicates,
        "forgotten_through": state.forgotten_through,
        "gaps": json.dumps([[g.boot, g.first_seq, g.last_seq, g.detected_ms] for g in state.gaps]),
    }


def _state(row: Any) -> SeqState:
    return SeqState(
        boot=row["boot"],
        next_seq=row["next_seq"],
        boot_first_ts_ms=row["boot_first_ts_ms"],
        last_ts_ms=row["last_ts_ms"],
        resets=row["resets"],
        duplicates=row["duplicates"],
        forgotten_through=row["forgotten_through"],
        gaps=tuple(SeqGap(*gap) for gap in json.loads(row["gaps"])),
    )
