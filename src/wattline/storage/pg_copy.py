"""Rows into a PostgreSQL table by ``COPY ... FROM STDIN (FORMAT BINARY)``.

The all-or-nothing insert of a batch's samples (``bulk.insert_new``) is the
largest statement of a PostgreSQL commit. ``INSERT ... SELECT * FROM
unnest(arrays)`` runs each row through the executor and the unnest function;
COPY hands the rows straight to the table. A standalone test of 11,000 sample
rows (10 devices, 5 metrics, medians of ten commits): the server's share 54-78
ms by unnest against 34-48 ms by COPY; the store's whole commit of 2,200
readings went from 61-68 to 39-41 us per reading (docs/benchmarks.md). Like the
plain INSERT it replaces, COPY fails as a whole on a key already stored, and
the caller then inserts with ``ON CONFLICT DO NOTHING`` instead.

psycopg writes each row in C (``write_row``), so no arrays are packed here.
The rows go over the transaction's own connection: SQLAlchemy has no COPY, so
a driver error is wrapped here as SQLAlchemy would wrap it (``OperationalError``
for an outage, which the collector retries), and a lost connection is
invalidated so the pool never hands it out again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import psycopg
from psycopg import errors
from sqlalchemy import BigInteger, Connection, Float, String, Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeEngine

# The binary format carries no type oids: the server reads each field with the
# column's own receive function, so a varchar column takes text's bytes. No
# 4-byte integers: psycopg's binary int4 dumper wraps 2**31 to -2**31 silently,
# where int8's raises OverflowError (a content error: the batch is bisected and
# the message quarantined, ``ingest/poison``).
_COPY_TYPES: tuple[tuple[type[TypeEngine[Any]], str], ...] = (
    (BigInteger, "int8"),
    (Float, "float8"),
    (String, "text"),
)


def copy_type(column_type: TypeEngine[Any]) -> str:
    """The PostgreSQL type psycopg writes a column's values as."""
    for python_type, name in _COPY_TYPES:
        if isinstance(column_type, python_type):
            return name
    raise TypeError(f"no binary COPY type for {column_type!r}")


def copy_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> bool:
    """COPY every row in, or none: False when a key already stored stopped it, which
    leaves the transaction failed until the caller rolls back to a savepoint."""
    types = [copy_type(table.c[name].type) for name in columns]
    # Table and column names are the caller's constants, never request text.
    sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    driver: psycopg.Connection[Any] = conn.connection.driver_connection  # type: ignore[assignment]
    try:
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)
    except errors.UniqueViolation:
        return False
    except psycopg.Error as error:
        # typed against the DB-API module's own Error class, which psycopg's is
        driver_error = cast("Any", error)
        invalidated = conn.dialect.is_disconnect(
            driver_error, conn.connection.dbapi_connection, None
        )
        if invalidated:
            conn.invalidate(error)
        raise DBAPIError.instance(
            sql, None, error, psycopg.Error, connection_invalidated=invalidated
        ) from error
    return True
