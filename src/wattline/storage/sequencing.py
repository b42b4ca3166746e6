"""Loading and saving per-device sequence state inside a commit transaction."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, select

from wattline.model.sequence import SeqGap, SeqState
from wattline.storage import schema
from wattline.storage.bulk import BulkStatement

InsertFactory = Callable[[Any], Any]


class SequenceStates:
    """Per-device sequence state rows, read and written inside a commit transaction.

    The statements are built once per store and sent through ``BulkStatement``:
    built per commit, with SQLAlchemy processing every row's parameters, they
    were a good part of a small batch's commit (benchmarks/commit_convoy.py)."""

    def __init__(self, insert: InsertFactory) -> None:
        table = schema.seq_state
        # a device once per statement: lock() and save() are given sets and dicts
        self._create = BulkStatement(insert(table).on_conflict_do_nothing(), one_row_per_key=True)
        upsert = insert(table)
        self._save = BulkStatement(
            upsert.on_conflict_do_update(
                index_elements=["device_id"],
                set_={c.name: upsert.excluded[c.name] for c in table.c if c.name != "device_id"},
            ),
            one_row_per_key=True,
        )
        self._lock = (
            select(table)
            .where(table.c.device_id.in_(bindparam("device_ids", expanding=True)))
            .with_for_update()
        )

    def lock(self, conn: Connection, device_ids: Collection[str]) -> dict[str, SeqState]:
        """Read the devices' states, locking their rows until the transaction ends.

        Rows are created first (in device order) so that two collectors seeing a
        new device at once serialise on the row lock instead of overwriting each
        other's state.
        """
        if not device_ids:
            return {}
        ordered = sorted(device_ids)
        self._create.execute(conn, [{**_FRESH, "device_id": device_id} for device_id in ordered])
        rows = conn.execute(self._lock, {"device_ids": ordered}).mappings()
        return {row["device_id"]: _state(row) for row in rows}

    def save(self, conn: Connection, states: Mapping[str, SeqState]) -> None:
        if states:
            self._save.execute(
                conn, [_row(device_id, state) for device_id, state in states.items()]
            )


def read_state(conn: Connection, device_id: str) -> SeqState | None:
    table = schema.seq_state
    row = conn.execute(select(table).where(table.c.device_id == device_id)).mappings().first()
    return _state(row) if row else None


# Nearly every device has no open gap: its state is written and read without JSON
# (a dumps and a loads for each device of every batch were a tenth of the commit's
# Python time).
_NO_GAPS = "[]"


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
        "gaps": orjson.dumps(
            [[g.boot, g.first_seq, g.last_seq, g.detected_ms] for g in state.gaps]
        ).decode()
        if state.gaps
        else _NO_GAPS,
    }


def _state(row: Any) -> SeqState:
    gaps = row["gaps"]
    return SeqState(
        boot=row["boot"],
        next_seq=row["next_seq"],
        boot_first_ts_ms=row["boot_first_ts_ms"],
        last_ts_ms=row["last_ts_ms"],
        resets=row["resets"],
        duplicates=row["duplicates"],
        forgotten_through=row["forgotten_through"],
        gaps=() if gaps == _NO_GAPS else tuple(SeqGap(*gap) for gap in orjson.loads(gaps)),
    )


# The row of a device never seen, which ``lock`` creates before reading.
_FRESH = _row("", SeqState())
