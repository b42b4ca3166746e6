"""What only the PostgreSQL backend does: monthly partitions, and outages of a real server."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from tests.conftest import free_port
from tests.integration.conftest import reset_postgres
from tests.integration.storage.test_month_boundary import commit

from wattline.storage.base import CommitBatch, StoreUnavailableError
from wattline.storage.partitions import Month
from wattline.storage.postgres import open_postgres_store, psycopg_url
from wattline.storage.sql import SqlStore

NOV_2026 = Month(2026, 11)
DEC_2026 = Month(2026, 12)
JAN_2027 = Month(2027, 1)


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[SqlStore]:
    store = open_postgres_store(postgres_url)
    reset_postgres(postgres_url)
    yield store
    store.close()


@pytest.fixture
def admin(postgres_url: str) -> Iterator[Engine]:
    """A connection of the test's own, to look at the catalogue behind the store's back."""
    engine = create_engine(psycopg_url(postgres_url))
    yield engine
    engine.dispose()


def partitions(admin: Engine) -> dict[str, str]:
    """Partition name -> its bound, as PostgreSQL states it."""
    with admin.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
                " JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = 'sample_rows'::regclass"
            )
        )
        return dict(rows.all())


def rows_by_partition(admin: Engine) -> dict[str, int]:
    with admin.connect() as conn:
        rows = conn.execute(
            text("SELECT tableoid::regclass::text, count(*) FROM sample_rows GROUP BY 1")
        )
        return dict(rows.all())


def test_a_batch_creates_the_partitions_of_the_months_it_touches(
    pg_store: SqlStore, admin: Engine
) -> None:
    assert partitions(admin) == {"sample_rows_default": "DEFAULT"}
    # one batch across a year end: the last millisecond of November, December, January
    assert commit(pg_store, DEC_2026.start_ms - 1, DEC_2026.start_ms, JAN_2027.start_ms + 5) == 3
    bounds = "FOR VALUES FROM ('{}') TO ('{}')"
    assert partitions(admin) == {
        "sample_rows_default": "DEFAULT",
        "sample_rows_2026_11": bounds.format(NOV_2026.start_ms, DEC_2026.start_ms),
        "sample_rows_2026_12": bounds.format(DEC_2026.start_ms, JAN_2027.start_ms),
        "sample_rows_2027_01": bounds.format(JAN_2027.start_ms, JAN_2027.end_ms),
    }
    assert rows_by_partition(admin) == {
        "sample_rows_2026_11": 1,
        "sample_rows_2026_12": 1,
        "sample_rows_2027_01": 1,
    }


def test_the_rows_every_commit_updates_have_room_on_their_pages(
    pg_store: SqlStore, admin: Engine
) -> None:
    """Migration 0021 and new 1-minute partitions: fillfactor 70, so updates stay HOT;
    the samples, only ever inserted, keep full pages."""
    commit(pg_store, NOV_2026.start_ms + 1, DEC_2026.start_ms + 1)
    with admin.connect() as conn:
        options = dict(
            conn.execute(
                text(
                    "SELECT relname, array_to_string(reloptions, ',') FROM pg_class"
                    " WHERE relname IN ('rollup_1h', 'rollup_1d', 'latest', 'seq_state',"
                    " 'devices', 'rollup_1m_default', 'rollup_1m_2026_11', 'rollup_1m_2026_12',"
                    " 'sample_rows_2026_11', 'sample_rows_default')"
                )
            ).all()
        )
    samples = {"sample_rows_2026_11", "sample_rows_default"}
    assert {name: options[name] for name in samples} == dict.fromkeys(samples, None)
    updated = set(options) - samples
    assert len(updated) == 8
    assert {name: options[name] for name in updated} == dict.fromkeys(updated, "fillfactor=70")


def test_device_ids_and_metric_names_compare_byte_by_byte(
    pg_store: SqlStore, admin: Engine
) -> None:
    """Migration 0023 (ADR 0035): every device id and metric name column, monthly
    partitions included, is COLLATE "C", and sorts as SQLite and Python do."""
    ids = ["b-1", "B_2", "a", "A", "a~", "Z9", "é"]
    commit(pg_store, NOV_2026.start_ms + 1, DEC_2026.start_ms + 1)
    pg_store.commit(CommitBatch(register=ids))
    with admin.connect() as conn:
        collations = conn.execute(
            text(
                "SELECT c.table_name, c.column_name, c.collation_name"
                " FROM information_schema.columns c"
                " WHERE c.table_schema = 'public' AND c.column_name IN ('device_id', 'metric')"
            )
        ).all()
        stored = conn.scalars(
            text("SELECT device_id FROM devices WHERE device_id = ANY(:ids) ORDER BY device_id"),
            {"ids": ids},
        ).all()
    tables = {table for table, _column, _collation in collations}
    # the samples view's columns are its series' (ADR 0036)
    assert {"samples", "series", "rollup_1m_2026_12", "latest", "alerts"} <= tables
    assert [row for row in collations if row[2] != "C"] == []
    assert stored == sorted(ids)


def test_a_second_store_finds_the_partitions_already_made(
    pg_store: SqlStore, postgres_url: str, admin: Engine
) -> None:
    commit(pg_store, NOV_2026.start_ms)
    other = open_postgres_store(postgres_url)  # another collector, with an empty cache
    try:
        assert commit(other, NOV_2026.start_ms + 1, device="d2") == 1
    finally:
        other.close()
    assert rows_by_partition(admin) == {"sample_rows_2026_11": 2}


def test_rows_already_in_the_default_partition_move_into_their_new_month(
    pg_store: SqlStore, admin: Engine
) -> None:
    # Rows written before their month had a partition (by hand, or an older Wattline).
    with admin.begin() as conn:
        conn.execute(text("INSERT INTO series (device_id, metric) VALUES ('d1', 'power_w')"))
        conn.execute(
            text(
                "INSERT INTO sample_rows (series_id, ts_ms, value, received_ms)"
                " SELECT series_id, :ts, 7.0, :ts FROM series"
                " WHERE device_id = 'd1' AND metric = 'power_w'"
            ),
            {"ts": NOV_2026.start_ms + 10},
        )
    assert rows_by_partition(admin) == {"sample_rows_default": 1}
    assert commit(pg_store, NOV_2026.start_ms + 20) == 1
    assert rows_by_partition(admin) == {"sample_rows_2026_11": 2}
    # the moved row still takes part in deduplication
    assert commit(pg_store, NOV_2026.start_ms + 10) == 0


class TcpProxy:
    """Forwards a local port to PostgreSQL; stop() is the server going away."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self.port = free_port()
        self._stopping = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._stopping.clear()
        listener = socket.create_server(("127.0.0.1", self.port))
        listener.settimeout(0.05)  # so the accept loop notices stop()
        self._sockets = [listener]
        self._threads = [threading.Thread(target=self._accept, args=(listener,))]
        self._threads[0].start()

    def stop(self) -> None:
        self._stopping.set()
        for sock in self._sockets:
            # a listener cannot be shut down; a peer may have closed already
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(5)

    def _accept(self, listener: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            upstream = socket.create_connection(self._target)
            self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                pump = threading.Thread(target=_pump, args=(source, sink))
                self._threads.append(pump)
                pump.start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass  # one side closed: the other direction ends too
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    url = make_url(postgres_url)
    tcp = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    tcp.start()
    yield tcp
    tcp.stop()


def test_a_server_that_goes_away_is_store_unavailable_and_comes_back(
    proxy: TcpProxy, postgres_url: str
) -> None:
    via_proxy = make_url(postgres_url).set(host="127.0.0.1", port=proxy.port)
    store = open_postgres_store(via_proxy.render_as_string(hide_password=False))
    try:
        reset_postgres(postgres_url)
        commit(store, NOV_2026.start_ms)
        store.ping()
        proxy.stop()  # the pooled connection dies and new ones are refused
        with pytest.raises(StoreUnavailableError):
            commit(store, NOV_2026.start_ms + 1)
        with pytest.raises(StoreUnavailableError):
            store.ping()
        with pytest.raises(StoreUnavailableError):
            store.raw_points("d1", NOV_2026.start_ms, NOV_2026.end_ms, None, 10)
        proxy.start()  # the server is back: pre-ping replaces the dead connection
        store.ping()
        assert commit(store, NOV_2026.start_ms + 1) == 1
    finally:
        store.close()


def test_opening_a_store_on_a_closed_port_is_store_unavailable(postgres_url: str) -> None:
    closed = make_url(postgres_url).set(host="127.0.0.1", port=free_port())
    with pytest.raises(StoreUnavailableError):
        open_postgres_store(closed.render_as_string(hide_password=False))


@pytest.mark.parametrize(
    ("url", "driver_url"),
    [
        ("postgresql://u@h:5/db", "postgresql+psycopg://u@h:5/db"),
        ("postgres://u:pw@h/db?sslmode=require", "postgresql+psycopg://u:pw@h/db?sslmode=require"),
    ],
)
def test_urls_name_the_psycopg_driver(url: str, driver_url: str) -> None:
    assert psycopg_url(url) == driver_url


def test_other_urls_are_refused_without_showing_the_password() -> None:
    with pytest.raises(ValueError, match="not a PostgreSQL URL") as raised:
        psycopg_url("mysql://u:secret@h/db")
    assert "secret" not in str(raised.value)
