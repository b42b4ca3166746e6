"""Database leases: one leader per job across every process sharing the database.

A holder renews its lease well before it expires; when it stops renewing (a
crash, a partition) another process takes the lease once it has expired. The
claim is one conditional statement, so two processes can never both win:

- a row for the job held by us, or expired: UPDATE it to us;
- no row: INSERT, and a racing INSERT loses on the primary key.

Times come from the caller's clock (injectable in tests); processes sharing a
lease must have clocks closer than the lease's length, which NTP gives.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable

from sqlalchemy import Engine, and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from wattline.storage.lease_schema import leases
from wattline.storage.sql.connections import Connections


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def holder_name() -> str:
    """This process, recognisable in the table: host, pid and a random suffix."""
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class SqlLeases:
    def __init__(self, engine: Engine, clock_ms: Callable[[], int] = _now_ms) -> None:
        self._connections = Connections(engine)
        self._clock_ms = clock_ms

    def try_acquire(self, name: str, holder: str, ttl_ms: int) -> bool:
        """Take or renew ``name`` for ``ttl_ms``; False while another holder's lease runs."""
        if ttl_ms <= 0:
            raise ValueError("a lease needs a positive length")
        now = self._clock_ms()
        with self._connections.write() as conn:
            renewed = conn.execute(
                update(leases)
                .where(
                    and_(
                        leases.c.name == name,
                        or_(leases.c.holder == holder, leases.c.expires_ms <= now),
                    )
                )
                .values(holder=holder, expires_ms=now + ttl_ms)
            )
            if renewed.rowcount == 1:
                return True
            exists = conn.execute(select(leases.c.name).where(leases.c.name == name)).first()
            if exists is not None:
                return False
        try:
            with self._connections.write() as conn:
                conn.execute(
                    insert(leases).values(name=name, holder=holder, expires_ms=now + ttl_ms)
                )
        except IntegrityError:
            return False  # another process inserted first
        return True

    def release(self, name: str, holder: str) -> None:
        """Give the lease up at once (a clean stop), so another process need not wait."""
        with self._connections.write() as conn:
            conn.execute(
                delete(leases).where(and_(leases.c.name == name, leases.c.holder == holder))
            )

    def holder(self, name: str) -> str | None:
        """Who holds ``name`` now; None when nobody or the lease has expired."""
        with self._connections.read() as conn:
            row = conn.execute(
                select(leases.c.holder, leases.c.expires_ms).where(leases.c.name == name)
            ).first()
        if row is None or row.expires_ms <= self._clock_ms():
            return None
        return str(row.holder)
