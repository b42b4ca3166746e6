"""Fixtures for the chaos tests: private servers to break, databases, collector processes."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from tests.conftest import unavailable
from tests.integration.chaos.harness import CollectorProcess, Ledger
from tests.integration.chaos.servers import (
    MosquittoServer,
    PostgresCluster,
    mosquitto_binary,
    postgres_bin_dir,
)
from tests.integration.conftest import POSTGRES_ADMIN_URL

from wattline.storage.postgres import psycopg_url


def _private_broker(tmp_path: Path, *, durable: bool) -> Iterator[MosquittoServer]:
    binary = mosquitto_binary()
    if binary is None:
        unavailable("no mosquitto binary to start a private broker")
    directory = tmp_path / "mosquitto"
    directory.mkdir()
    server = MosquittoServer(binary, directory, durable=durable)  # type: ignore[arg-type]
    server.start()
    yield server
    server.stop()


@pytest.fixture
def chaos_broker(tmp_path: Path) -> Iterator[MosquittoServer]:
    """A Mosquitto of this test's own, with room to queue everything a stalled collector misses."""
    yield from _private_broker(tmp_path, durable=False)


@pytest.fixture
def durable_broker(tmp_path: Path) -> Iterator[MosquittoServer]:
    """The same, configured to survive its own restart (docs/operations.md)."""
    yield from _private_broker(tmp_path, durable=True)


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster this session may stop and start; the shared one is never touched."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None or shutil.which("runuser") is None:
        unavailable("no /usr/lib/postgresql/*/bin/initdb (or runuser) for a private cluster")
    # Not under pytest's basetemp: that folder is private to root, and the
    # server runs as the `postgres` user.
    directory = Path(tempfile.mkdtemp(prefix="wattline-chaos-pg-"))
    cluster = PostgresCluster(bin_dir, directory)  # type: ignore[arg-type]
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.running():
            cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)


def _create_database(admin_url: str) -> str:
    admin = create_engine(
        psycopg_url(admin_url), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    name = f"wattline_chaos_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
    except OperationalError as exc:
        unavailable(f"no PostgreSQL at {make_url(admin_url)!r}: {exc.orig}")
    finally:
        admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _drop_database(url: str, admin_url: str) -> None:
    admin = create_engine(psycopg_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            # FORCE: a killed collector's connections may linger for a moment.
            conn.execute(text(f"DROP DATABASE IF EXISTS {make_url(url).database} WITH (FORCE)"))
    finally:
        admin.dispose()


@pytest.fixture
def shared_database() -> Iterator[str]:
    """A database of this test's own on the machine's PostgreSQL, dropped at the end."""
    url = _create_database(POSTGRES_ADMIN_URL)
    yield url
    _drop_database(url, POSTGRES_ADMIN_URL)


@pytest.fixture
def private_database(private_postgres: PostgresCluster) -> Iterator[str]:
    """A database of this test's own on the private cluster."""
    admin_url = private_postgres.url()
    url = _create_database(admin_url)
    yield url
    if private_postgres.running():
        _drop_database(url, admin_url)


@pytest.fixture
def topic_prefix() -> str:
    return f"chaos{uuid.uuid4().hex[:8]}"


MakeCollector = Callable[[str, str], CollectorProcess]


@pytest.fixture
def make_collector(tmp_path: Path, topic_prefix: str) -> Iterator[MakeCollector]:
    """Collector processes for (mqtt url, database url); every one is stopped at the end."""
    made: list[CollectorProcess] = []

    def make(mqtt_url: str, database_url: str) -> CollectorProcess:
        collector = CollectorProcess(
            mqtt_url=mqtt_url,
            database_url=database_url,
            data_dir=tmp_path / "data",
            topic_prefix=topic_prefix,
            client_id=f"collector-{topic_prefix}",
            log_path=tmp_path / f"collector-{len(made)}.log",
        )
        made.append(collector)
        return collector

    yield make
    for collector in made:
        collector.stop()


LedgerFor = Callable[[str], Ledger]


@pytest.fixture
def ledger_for() -> Iterator[LedgerFor]:
    opened: list[Ledger] = []

    def open_ledger(url: str) -> Ledger:
        opened.append(Ledger(url))
        return opened[-1]

    yield open_ledger
    for ledger in opened:
        ledger.close()
