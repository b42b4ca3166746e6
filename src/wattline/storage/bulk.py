"""Many-row statements on the ingest hot path, without SQLAlchemy's per-row parameter work.

SQLAlchemy processes every parameter set of an ``executemany`` in Python
(about 2-4 us a row); a commit of 2,000 messages with 5 metrics sends some
14,000 rows (samples and rollup rows), so that alone was a fifth of the commit.
Here a statement is compiled once per dialect and its rows go to the driver as
plain tuples (or dicts, for named paramstyles), through ``exec_driver_sql`` so
that driver errors are still wrapped as SQLAlchemy's (``OperationalError``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from copy import copy
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Dialect, Table
from sqlalchemy.sql.compiler import Compiled
from sqlalchemy.sql.expression import Executable
from sqlalchemy.types import TypeEngine

# Rows per multi-row INSERT ... RETURNING at most: 6,144 parameters for samples,
# under SQLite's limit of 32,766 per statement.
_ROWS_PER_PAGE = 1_024
# On PostgreSQL fewer rows than this are inserted with RETURNING in one statement
# rather than all or nothing (a savepoint, a COPY, a release): a few readings' commit
# is mostly round trips, while ON CONFLICT's speculative insert costs more per row
# than COPY only in large batches.
_ALL_OR_NOTHING_FROM_ROWS = 100


def page_sizes(count: int, largest: int = _ROWS_PER_PAGE) -> list[int]:
    """``count`` rows as pages of power-of-two sizes, largest first.

    sqlite3 keeps the last 128 prepared statements of each connection, and a
    multi-row VALUES is a statement per row count: with a page of exactly the
    batch's size, every new size was parsed again and kept, about 0.4 MB each,
    and a collector's RSS grew by 130 MB in its first minutes (benchmarks/soak.py).
    Powers of two are 11 statements in all, prepared once."""
    sizes = [largest] * (count // largest)
    rest = count % largest
    while rest:
        size = 1 << (rest.bit_length() - 1)
        sizes.append(size)
        rest -= size
    return sizes


def array_parameter(conn: Connection, values: Sequence[Any], column_type: TypeEngine[Any]) -> Any:
    """PostgreSQL: a column's values as one binary array parameter (``%b``), packed
    by NumPy when ``pg_arrays`` can (numbers, strings, no NULL), else the list for
    psycopg to dump."""
    from wattline.storage.pg_arrays import packed  # noqa: PLC0415 - psycopg only here

    encoding = conn.connection.dbapi_connection.info.encoding  # type: ignore[union-attr]
    return packed(values, column_type, encoding) or list(values)


def array_cast(column_type: TypeEngine[Any], dialect: Dialect) -> str:
    """A column's type as an array cast's element type (``%b::<this>[]``): without the
    column's collation, which has no place inside a cast (``VARCHAR(64) COLLATE "C"[]``
    is a syntax error); a value compared with the column takes the column's."""
    impl = column_type.dialect_impl(dialect)
    if getattr(impl, "collation", None) is not None:
        impl = copy(impl)
        impl.collation = None  # type: ignore[attr-defined]
    return impl.compile(dialect=dialect)


class BulkStatement:
    """A statement compiled once per dialect, executed for many rows at once.

    ``one_row_per_key``: an ``INSERT`` (an upsert) whose rows never repeat a key.
    On PostgreSQL it then runs once over one array per column (``SELECT * FROM
    unnest(...)``, as the sample insert does) instead of once per row: psycopg's
    pipelined ``executemany`` binds and reads each row in Python, which was a
    tenth of a busy PostgreSQL collector's GIL time for the commit's small
    upserts (rollup tiers, latest values, sequence rows). A key twice in one
    such statement would fail it (``ON CONFLICT DO UPDATE`` cannot touch a row twice).
    """

    def __init__(self, statement: Executable, *, one_row_per_key: bool = False) -> None:
        self._statement = statement
        self._compiled: dict[str, Compiled] = {}
        self._one_row_per_key = one_row_per_key
        self._over_arrays: tuple[str, tuple[str, ...], tuple[Any, ...]] | None = None

    def execute(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        compiled = self._compiled.get(conn.dialect.name)
        if compiled is None:
            compiled = self._statement.compile(dialect=conn.dialect)  # type: ignore[attr-defined]
            self._compiled[conn.dialect.name] = compiled
        names = getattr(compiled, "positiontup", None)
        if names is None:  # named paramstyle (psycopg): the dicts as they are
            if self._one_row_per_key and conn.dialect.name == "postgresql":
                self._execute_over_arrays(conn, compiled, rows)
                return
            conn.exec_driver_sql(str(compiled), [dict(row) for row in rows])
        else:
            # itemgetter over several names returns a tuple, in C; our statements have many
            as_tuple = itemgetter(*names)
            assert len(names) > 1
            conn.exec_driver_sql(str(compiled), [as_tuple(row) for row in rows])

    def _execute_over_arrays(
        self, conn: Connection, compiled: Compiled, rows: Sequence[Mapping[str, Any]]
    ) -> None:
        if self._over_arrays is None:
            self._over_arrays = _over_arrays(self._statement, compiled, conn)
        sql, names, types = self._over_arrays
        parameters = {
            name: array_parameter(conn, [row[name] for row in rows], column_type)
            for name, column_type in zip(names, types, strict=True)
        }
        conn.exec_driver_sql(sql, parameters)


# An INSERT's VALUES clause as SQLAlchemy compiles it for psycopg: named placeholders,
# some with a cast (``%(device_id)s::VARCHAR``), nothing else.
_PLACEHOLDER = r"%\((\w+)\)s(?:::[A-Z ]+(?:\(\d+\))?)?"
_VALUES = re.compile(rf"VALUES \(({_PLACEHOLDER}(?:, {_PLACEHOLDER})*)\)")


def _over_arrays(
    statement: Executable, compiled: Compiled, conn: Connection
) -> tuple[str, tuple[str, ...], tuple[Any, ...]]:
    """The compiled ``INSERT ... VALUES (%(a)s, ...)`` as ``INSERT ... SELECT * FROM
    unnest(%(a)b::type[], ...)``, with its parameter names and column types."""
    sql = str(compiled)
    values = _VALUES.search(sql)
    table = getattr(statement, "table", None)
    if values is None or table is None:
        raise ValueError(f"not an INSERT of plain values: {sql[:80]!r}")
    names = tuple(re.findall(_PLACEHOLDER, values.group(1)))
    types = tuple(table.c[name].type for name in names)
    arrays = ", ".join(
        f"%({name})b::{array_cast(column_type, conn.dialect)}[]"
        for name, column_type in zip(names, types, strict=True)
    )
    # Built from the statement's own compiled text and column types, no request text.
    over_arrays = f"SELECT * FROM unnest({arrays})"  # noqa: S608
    return sql[: values.start()] + over_arrays + sql[values.end() :], names, types


def insert_new(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    returning: Sequence[str],
) -> list[tuple[Any, ...]] | None:
    """``INSERT ... ON CONFLICT DO NOTHING``: None when it inserted every row, else the
    ``returning`` columns of the rows it inserted.

    RETURNING made SQLite's insert half as dear again (12.1 against 8.0 us per
    reading of five samples, 10,000-row batches; ADR 0026),
    and nearly every batch is all new. So the rows go in without it, inside a
    savepoint, and the row counts (on PostgreSQL: the absence of a unique violation)
    say whether all of them went in; only when some were already stored (a
    redelivery, a correction, another collector's commit) is the insert undone and
    repeated with RETURNING, which names the rows inserted. A few rows on
    PostgreSQL go in with RETURNING at once: there the savepoint, the COPY and the
    release are round trips, most of a small commit's time (one reading: 4.1 ->
    3.4 ms a commit at the median, docs/benchmarks.md).
    """
    if not rows:
        return None
    if len(rows) < _ALL_OR_NOTHING_FROM_ROWS and conn.dialect.name == "postgresql":
        inserted = insert_new_returning(conn, table, columns, rows, returning)
        return None if len(inserted) == len(rows) else inserted
    conn.exec_driver_sql("SAVEPOINT insert_new")
    if _insert_all_or_nothing(conn, table, columns, rows):
        conn.exec_driver_sql("RELEASE SAVEPOINT insert_new")
        return None
    conn.exec_driver_sql("ROLLBACK TO SAVEPOINT insert_new")
    conn.exec_driver_sql("RELEASE SAVEPOINT insert_new")
    return insert_new_returning(conn, table, columns, rows, returning)


def _insert_all_or_nothing(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> bool:
    """Whether every row went in; False leaves the savepoint to be rolled back.

    On PostgreSQL a binary COPY (``pg_copy``), which a stored key fails with a
    unique violation: ``ON CONFLICT DO NOTHING`` inserts each row speculatively (a
    look in the index first, then a confirmation), which took the sample insert of
    a 10,000-row batch from 43 to 68 ms (``benchmarks/commit_batch.py --postgres``),
    and COPY skips the executor's work per row that an INSERT over arrays does.
    SQLite checks the key in the same descent either way (12.2-12.9 ms both), and
    its counts need no error to tell.
    """
    if conn.dialect.name != "postgresql":
        return _insert(conn, table, columns, rows, returning=None)[0] == len(rows)
    from wattline.storage.pg_copy import copy_rows  # noqa: PLC0415 - psycopg only here

    return copy_rows(conn, table, columns, rows)


def insert_new_returning(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    returning: Sequence[str],
) -> list[tuple[Any, ...]]:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING``: the rows this statement inserted.

    Only inserted rows come back: a duplicate, or a row another transaction
    committed first, does not. The syntax is the same on SQLite (>= 3.35) and
    PostgreSQL; only the placeholder differs.
    """
    return _insert(conn, table, columns, rows, returning)[1]


def _insert(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    returning: Sequence[str] | None,
) -> tuple[int, list[tuple[Any, ...]]]:
    """``INSERT ... ON CONFLICT DO NOTHING [RETURNING ...]``: rows inserted, and those
    rows' ``returning`` columns when asked for."""
    # Table and column names are the caller's constants, never request text.
    head = f"INSERT INTO {table.name} ({', '.join(columns)}) "
    tail = " ON CONFLICT DO NOTHING"
    if returning is not None:
        tail += f" RETURNING {', '.join(returning)}"
    if conn.dialect.name == "postgresql":
        return _insert_unnest(conn, table, columns, rows, head, tail, returns=returning is not None)
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    one_row = "(" + ", ".join([mark] * len(columns)) + ")"
    head += "VALUES "
    count = 0
    inserted: list[tuple[Any, ...]] = []
    start = 0
    for size in page_sizes(len(rows)):
        page = rows[start : start + size]
        start += size
        sql = head + ", ".join([one_row] * size) + tail
        params = tuple(chain.from_iterable(page))
        result = conn.exec_driver_sql(sql, params)
        if returning is None:
            count += result.rowcount
        else:
            # The driver's own rows (tuples): SQLAlchemy's Row wrapping per fetched
            # row cost as much as SQLite's insert itself.
            fetched = result.cursor.fetchall()
            count += len(fetched)
            inserted.extend(fetched)
        result.close()
    return count, inserted


def _insert_unnest(  # noqa: PLR0913, PLR0917 - the parts _insert prepared
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    head: str,
    tail: str,
    *,
    returns: bool,
) -> tuple[int, list[tuple[Any, ...]]]:
    """PostgreSQL: one array per column, ``SELECT * FROM unnest(...)``.

    A multi-row VALUES with thousands of placeholders is parsed by psycopg on
    every call (its query cache skips long queries): that was 60 % of a
    PostgreSQL commit. This statement is short, the same every time, and the
    arrays go over as single parameters.
    """
    if not rows:
        return 0, []
    casts = ", ".join(
        # %b: binary parameters; the text format scans every string for quoting.
        f"%b::{array_cast(table.c[name].type, conn.dialect)}[]"
        for name in columns
    )
    sql = f"{head}SELECT * FROM unnest({casts}){tail}"  # noqa: S608 - our constants
    arrays = tuple(
        array_parameter(conn, column, table.c[name].type)
        for name, column in zip(columns, zip(*rows, strict=True), strict=True)
    )
    result = conn.exec_driver_sql(sql, arrays)
    if not returns:
        count = result.rowcount
        result.close()
        return count, []
    inserted: list[tuple[Any, ...]] = list(result.cursor.fetchall())
    result.close()
    return len(inserted), inserted
