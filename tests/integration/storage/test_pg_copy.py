"""Rows copied in binary reach PostgreSQL exactly, all or none, with errors as SQLAlchemy's.

``storage/pg_copy.copy_rows`` is the sample insert's first try on PostgreSQL
(``bulk.insert_new``). It bypasses SQLAlchemy for the COPY protocol, so these
tests hold it to what the statements it replaced gave: every value back as
sent, a stored key answered False with nothing left behind once the savepoint
is rolled back, any other constraint an ``IntegrityError``, and a lost
connection an ``OperationalError`` that also takes the connection out of the
pool.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    select,
    text,
)
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from wattline.storage.pg_copy import copy_rows, copy_type
from wattline.storage.postgres import psycopg_url

metadata = MetaData()
probe = Table(
    "copy_probe",
    metadata,
    Column("name", String(64), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("value", Float, nullable=False),
    Column("seq", BigInteger),
    PrimaryKeyConstraint("name", "at"),
)
COLUMNS = ("name", "at", "value", "seq")


@pytest.fixture(scope="module")
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine(psycopg_url(postgres_url))
    metadata.create_all(engine)
    yield engine
    metadata.drop_all(engine)
    engine.dispose()


@pytest.fixture
def empty(engine: Engine) -> Engine:
    with engine.begin() as conn:
        conn.execute(probe.delete())
    return engine


def stored(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(probe).order_by(probe.c.name, probe.c.at))]


# PostgreSQL's text holds any character but NUL; surrogates have no UTF-8 at all.
characters = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
rows = st.lists(
    st.tuples(
        st.text(characters, max_size=64),
        st.integers(-(2**63), 2**63 - 1),
        st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([-0.0, 5e-324]),
        st.none() | st.integers(-(2**63), 2**63 - 1),
    ),
    max_size=200,
    unique_by=lambda row: (row[0], row[1]),
)


def _bits(value: float) -> bytes:
    return struct.pack(">d", value)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(offered=rows)
def test_every_value_arrives_as_sent(engine: Engine, offered: list[tuple[Any, ...]]) -> None:
    with engine.begin() as conn:
        conn.execute(probe.delete())
        assert copy_rows(conn, probe, COLUMNS, offered)
    back = {(r[0], r[1]): r for r in stored(engine)}
    assert len(back) == len(offered)
    for name, at, value, seq in offered:
        got = back[(name, at)]
        # NaN and -0.0 compare by bits: the binary format must carry them exactly
        assert _bits(got[2]) == _bits(value) or (math.isnan(got[2]) and math.isnan(value))
        assert got[3] == seq


def test_a_stored_key_stops_the_copy_and_the_savepoint_undoes_it(empty: Engine) -> None:
    with empty.begin() as conn:
        assert copy_rows(conn, probe, COLUMNS, [("a", 1, 1.0, None)])
    with empty.begin() as conn:
        conn.exec_driver_sql("SAVEPOINT probe")
        offered = [("a", 0, 2.0, None), ("a", 1, 2.0, None), ("a", 2, 2.0, 3)]
        assert not copy_rows(conn, probe, COLUMNS, offered)
        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT probe")
        # the transaction goes on: the same connection takes the next statement
        assert copy_rows(conn, probe, COLUMNS, [("b", 0, 5.0, 8)])
    assert stored(empty) == [("a", 1, 1.0, None), ("b", 0, 5.0, 8)]


def test_another_constraint_is_an_integrity_error(empty: Engine) -> None:
    with pytest.raises(IntegrityError, match="null value"), empty.begin() as conn:
        copy_rows(conn, probe, COLUMNS, [("a", 1, 1.0, None), ("a", 2, None, None)])
    assert stored(empty) == []


def test_an_integer_beyond_64_bits_is_refused_not_wrapped(empty: Engine) -> None:
    with pytest.raises(OverflowError), empty.begin() as conn:
        copy_rows(conn, probe, COLUMNS, [("a", 1, 1.0, None), ("a", 2, 1.0, 2**63)])
    assert stored(empty) == []


def test_a_string_longer_than_its_column_is_a_data_error(empty: Engine) -> None:
    with pytest.raises(DataError, match="too long"), empty.begin() as conn:
        copy_rows(conn, probe, COLUMNS, [("x" * 65, 1, 1.0, None)])
    assert stored(empty) == []


def test_a_lost_connection_is_an_operational_error_and_leaves_the_pool(empty: Engine) -> None:
    with empty.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        conn.commit()
        with empty.connect() as killer:
            killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(OperationalError) as raised:
            copy_rows(conn, probe, COLUMNS, [("a", 1, 1.0, None)])
        assert raised.value.connection_invalidated
        assert conn.invalidated
    # the pool hands out a live connection next, not the dead one
    with empty.begin() as conn:
        assert copy_rows(conn, probe, COLUMNS, [("a", 1, 1.0, None)])
    assert stored(empty) == [("a", 1, 1.0, None)]


def test_a_column_type_without_a_binary_copy_type_is_refused() -> None:
    assert [copy_type(t) for t in (BigInteger(), Float(), String(8))] == ["int8", "float8", "text"]
    # Boolean has none; Integer neither: psycopg's binary int4 would wrap 2**31 silently
    for refused in (Boolean(), Integer()):
        with pytest.raises(TypeError, match="no binary COPY type"):
            copy_type(refused)
