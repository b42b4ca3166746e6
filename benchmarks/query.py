"""Query latency over a year of one-minute data, against DuckDB scanning the same data as Parquet.

Loads ``--devices`` devices x ``--days`` days x ``--metrics`` metrics at one
reading a minute (defaults: 50 x 365 x 4, about 105 M samples) into SQLite (a
file in a temporary directory) and PostgreSQL (a database of its own on
127.0.0.1:5432, dropped at the end), through a bulk loader that writes exactly
what ``SqlStore.commit`` would (samples, the three rollup tiers, ``latest``;
checked against the commit path on a small data set at every run). Then it
times five requests over HTTP on loopback (the app on uvicorn, as ``wattline up``
runs it, and a keep-alive httpx client), interleaved and repeated with a fixed seed:

* ``fleet latest``: ``GET /api/v1/devices`` (every device with its latest values)
* ``day @1m``: one device's UTC day at 1 minute
* ``day @1m columns``: the same with ``layout=columns`` (an array per metric and aggregate)
* ``year @1d``: one device's whole range at 1 day
* ``fleet kWh 30d``: ``GET /api/v1/energy``, daily kWh of every device for 30 days

and answers the same questions with DuckDB over a Parquet file in the export's
shape (one row per device and minute, a column per metric), written from the
same generated data. Results go to stdout as Markdown.

    python benchmarks/query.py --devices 5 --days 30 --backends sqlite
    python benchmarks/query.py --keep /tmp/wattline-query   # reuse loaded data next time
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb
import httpx
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
from prometheus_client import CollectorRegistry
from served import served

from wattline.api.app import create_app
from wattline.api.services import ApiServices
from wattline.model.messages import Reading
from wattline.runtime.garbage import settle_after_startup
from wattline.storage.base import CommitBatch
from wattline.storage.partitions import months_of
from wattline.storage.postgres import PostgresStore, open_postgres_store
from wattline.storage.rollups import DAY_MS, MINUTE_MS, TIERS
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.series_numbers import SeriesNumbers
from wattline.storage.sql import SqlStore
from wattline.storage.sqlite import open_sqlite_store

T0_MS = 1_735_689_600_000  # 2025-01-01T00:00Z: a fixed year, so runs are comparable
# power and energy first: the energy query needs both; the rest are plausible extras
ALL_METRICS = ("power_w", "energy_wh", "voltage_v", "current_a", "frequency_hz", "power_factor")
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TOKEN = "bench-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
QUERIES = ("fleet latest", "day @1m", "day @1m columns", "year @1d", "fleet kWh 30d")
SAMPLE_COLUMNS = "series_id, ts_ms, value, seq, received_ms"
ROLLUP_COLUMNS = (
    "device_id, metric, bucket_ms, sample_count, value_sum, value_min, value_max,"
    " first_ts_ms, first_value, last_ts_ms, last_value"
)
# A device whose index ends in 3 has its energy counter reset (a reboot) on this
# day, so the energy query meets a reset now and then, as it does in the field.
RESET_DAY = 200


@dataclass(frozen=True, slots=True)
class Scale:
    devices: int
    days: int
    metrics: int

    @property
    def samples(self) -> int:
        return self.devices * self.days * 1440 * self.metrics

    @property
    def tag(self) -> str:
        return f"{self.devices}x{self.days}x{self.metrics}"

    def __str__(self) -> str:
        return f"{self.devices} devices x {self.days} days x {self.metrics} metrics"


# -- data -----------------------------------------------------------------------


def device_name(index: int) -> str:
    return f"plug-{index:03d}"


Day = tuple[list[int], dict[str, list[float]]]  # timestamps, values per metric


def device_days(index: int, scale: Scale) -> Iterator[Day]:
    """One device's readings a day at a time; the same for a given index whatever the scale."""
    rng = random.Random(index)
    metrics = ALL_METRICS[: scale.metrics]
    base_w, peak_w = 20 + 80 * rng.random(), 200 + 1800 * rng.random()
    energy_wh = 1000 * rng.random()
    for day in range(scale.days):
        start = T0_MS + day * DAY_MS
        stamps = list(range(start, start + DAY_MS, MINUTE_MS))
        power = [
            round(base_w + peak_w * max(0.0, math.sin(math.pi * (m - 420) / 720)) ** 2
                  + 30 * rng.random(), 1)
            for m in range(1440)
        ]  # fmt: skip
        energy = []
        for m, p in enumerate(power):
            if index % 10 == 3 and day == RESET_DAY and m == 720:
                energy_wh = 0.0
            energy_wh += p / 60
            energy.append(round(energy_wh, 3))
        volts = [round(228 + 4 * rng.random(), 2) for _ in range(1440)]
        columns = {"power_w": power, "energy_wh": energy, "voltage_v": volts}
        columns["current_a"] = [round(p / v, 3) for p, v in zip(power, volts, strict=True)]
        columns["frequency_hz"] = [round(49.95 + 0.1 * rng.random(), 3) for _ in range(1440)]
        columns["power_factor"] = [round(0.9 + 0.1 * rng.random(), 3) for _ in range(1440)]
        yield stamps, {m: columns[m] for m in metrics}


# -- bulk loading ---------------------------------------------------------------


@dataclass
class LoadStats:
    samples: int = 0
    seconds: float = 0.0
    bytes_on_disk: int = 0
    loaded_at: str = ""  # UTC; a --keep run reuses the load and reports when it was made
    # after packing every loaded day into blocks (ADR 0018) and reclaiming the freed pages
    compact_seconds: float = 0.0
    compacted_bytes: int = 0
    tables: str = ""  # where the bytes go, per table (indexes included), after compaction


Chunk = tuple[list[tuple[Any, ...]], dict[str, list[tuple[Any, ...]]], list[tuple[Any, ...]]]


def day_rows(device_id: str, day: Day) -> Chunk:
    """One device-day as the commit path would write it: samples, tier rows, latest rows.

    Samples as ``SqlStore.commit`` writes them for readings without arrival
    times (``seq`` NULL, ``received_ms`` = the reading's time). Tier rows by the
    rollup arithmetic's rules (``rollups.py``): a day's minutes merged in time
    order into hours and hours into the day, as ``coarsen`` merges them; done
    here in one pass over each sorted series, as ``tier_partials`` builds an
    object per sample and would make the tiers most of the load's cost.
    ``check_loader_matches_commit`` compares the result with real commits.
    """
    stamps, columns = day
    samples: list[tuple[Any, ...]] = []
    rollups: dict[str, list[tuple[Any, ...]]] = {tier.table_name: [] for tier in TIERS}
    for metric, values in columns.items():
        samples.extend(
            (device_id, metric, ts, v, None, ts) for ts, v in zip(stamps, values, strict=True)
        )
        rows = _buckets(
            device_id,
            metric,
            [(ts, 1, v, v, v, ts, v, ts, v) for ts, v in zip(stamps, values, strict=True)],
            MINUTE_MS,
        )
        for tier in TIERS:
            if tier.width_ms != MINUTE_MS:
                rows = _buckets(device_id, metric, [r[2:] for r in rows], tier.width_ms)
            rollups[tier.table_name].extend(rows)
    latest = [(device_id, metric, stamps[-1], values[-1]) for metric, values in columns.items()]
    return samples, rollups, latest


def _buckets(
    device_id: str, metric: str, parts: list[tuple[Any, ...]], width_ms: int
) -> list[tuple[Any, ...]]:
    """Partials (start, count, sum, min, max, first_ts, first, last_ts, last) merged per bucket.

    The partials come in time order, so a bucket's are consecutive.
    """
    rows: list[tuple[Any, ...]] = []
    acc: list[Any] | None = None
    for start, n, total, lo, hi, first_ts, first, last_ts, last in parts:
        bucket = start - start % width_ms
        if acc is not None and acc[0] == bucket:
            acc[1] += n
            acc[2] += total
            acc[3] = min(acc[3], lo)
            acc[4] = max(acc[4], hi)
            acc[7], acc[8] = last_ts, last  # parts come in time order
            continue
        if acc is not None:
            rows.append((device_id, metric, *acc))
        acc = [bucket, n, total, lo, hi, first_ts, first, last_ts, last]
    if acc is not None:
        rows.append((device_id, metric, *acc))
    return rows


def produce(scale: Scale, chunks: Any) -> None:
    """In a second process: generate and aggregate while the first one writes."""
    for index in range(scale.devices):
        for day in device_days(index, scale):
            chunks.put((index, day_rows(device_name(index), day)))
    chunks.put(None)


def chunks_of(scale: Scale) -> Iterator[tuple[int, Chunk]]:
    """(device index, chunk) in device then time order, made in a producer process."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue(maxsize=16)
    producer = context.Process(target=produce, args=(scale, queue), daemon=True)
    producer.start()
    try:
        while (item := queue.get()) is not None:
            yield item
    finally:
        producer.kill()
        producer.join()


def register(store: SqlStore, scale: Scale) -> dict[tuple[str, str], int]:
    """The devices registered and their series numbered, as a commit of theirs would;
    the numbers by (device, metric)."""
    for index in range(scale.devices):
        store.register_device(device_name(index), "smart_plug", T0_MS, tenant_id=DEFAULT_TENANT)
    series = [
        (device_name(i), m) for i in range(scale.devices) for m in ALL_METRICS[: scale.metrics]
    ]
    numbers = SeriesNumbers(store._insert)  # noqa: SLF001
    numbers.ensure(store._connections.write, series)  # noqa: SLF001
    return dict(numbers.cached())


def numbered(
    samples: list[tuple[Any, ...]], numbers: dict[tuple[str, str], int]
) -> list[tuple[Any, ...]]:
    """Rows of ``day_rows`` as ``sample_rows`` holds them: the series by number."""
    return [(numbers[d, m], *rest) for d, m, *rest in samples]


def load_sqlite(path: Path, scale: Scale, progress: Callable[[int], None]) -> None:
    numbers = register(open_sqlite_store(path), scale)
    latest: dict[tuple[str, str], tuple[Any, ...]] = {}
    insert_samples = f"INSERT INTO sample_rows ({SAMPLE_COLUMNS}) VALUES (?,?,?,?,?)"
    insert_rollup = "INSERT INTO {} (" + ROLLUP_COLUMNS + ") VALUES (?,?,?,?,?,?,?,?,?,?,?)"
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        # Bulk-load settings for this connection only; the store's own stay as they are.
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-1000000")
        db.execute("BEGIN")
        current = 0
        for index, (samples, rollups, newest) in chunks_of(scale):
            if index != current:  # a transaction per device: about 2 M samples
                db.execute("COMMIT")
                db.execute("BEGIN")
                current = index
            db.executemany(insert_samples, numbered(samples, numbers))
            for table, rows in rollups.items():
                db.executemany(insert_rollup.format(table), rows)
            latest.update(((row[0], row[1]), row) for row in newest)
            progress(len(samples))
        db.executemany("INSERT INTO latest VALUES (?,?,?,?)", sorted(latest.values()))
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def compact(store: SqlStore, scale: Scale) -> float:
    """Every loaded day packed into blocks, as the compaction job does to closed days."""
    started = time.perf_counter()
    done = store.compact_before(T0_MS + scale.days * DAY_MS)
    print(f"  compacted: {done}", file=sys.stderr, flush=True)
    return time.perf_counter() - started


def _sizes(sizes: Sequence[tuple[str, int]]) -> str:
    top = sorted(sizes, key=lambda item: -item[1])[:6]
    return ", ".join(f"{name} {size / 2**20:.1f} MiB" for name, size in top if size)


def sqlite_tables(path: Path) -> str:
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
    return _sizes([(str(name), int(size)) for name, size in rows])


def postgres_tables(url: str) -> str:
    # Partitions summed into their parent; indexes and TOAST included.
    query = (
        "SELECT coalesce(p.relname, c.relname), sum(pg_total_relation_size(c.oid))"
        " FROM pg_class c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid"
        " LEFT JOIN pg_class p ON p.oid = i.inhparent"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind = 'r' AND n.nspname = 'public' GROUP BY 1"
    )
    with psycopg.connect(url) as conn:
        rows = conn.execute(query).fetchall()
    return _sizes([(str(name), int(size)) for name, size in rows])


def sqlite_bytes(path: Path) -> int:
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def load_postgres(url: str, scale: Scale, progress: Callable[[int], None]) -> None:
    store = open_postgres_store(url)
    assert isinstance(store, PostgresStore)
    numbers = register(store, scale)
    # The store makes monthly partitions before a commit; the loader needs them before COPY.
    store._ensure_partitions(months_of([T0_MS, T0_MS + scale.days * DAY_MS - 1]))  # noqa: SLF001
    store._ensure_partitions(  # noqa: SLF001
        months_of(range(T0_MS, T0_MS + scale.days * DAY_MS, DAY_MS))
    )
    store.close()
    latest: dict[tuple[str, str], tuple[Any, ...]] = {}
    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = off")
        current, cur = 0, conn.cursor()
        for index, (samples, rollups, newest) in chunks_of(scale):
            if index != current:  # a transaction per device: about 2 M samples
                conn.commit()
                current = index
            with cur.copy(f"COPY sample_rows ({SAMPLE_COLUMNS}) FROM STDIN") as copy:
                for row in numbered(samples, numbers):
                    copy.write_row(row)
            for table, rows in rollups.items():
                with cur.copy(f"COPY {table} ({ROLLUP_COLUMNS}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            latest.update(((row[0], row[1]), row) for row in newest)
            progress(len(samples))
        cur.executemany("INSERT INTO latest VALUES (%s, %s, %s, %s)", sorted(latest.values()))
        conn.commit()
        # What autovacuum would do soon after a load this size; the planner needs it.
        conn.execute("ANALYZE")


def postgres_bytes(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    assert row is not None
    return int(row[0])


def write_parquet(path: Path, scale: Scale) -> None:
    """The export's shape (transfer/export.py): device, timestamp, metric columns, time parts."""
    metrics = ALL_METRICS[: scale.metrics]
    schema = pa.schema(
        [
            ("device_id", pa.string()),
            ("timestamp", pa.timestamp("ms", tz="UTC")),
            *[(m, pa.float64()) for m in sorted(metrics)],
            ("day_of_week", pa.int8()),
            ("hour_of_day", pa.int8()),
        ]
    )
    with pq.ParquetWriter(path, schema) as writer:
        for index in range(scale.devices):
            stamps: list[int] = []
            columns: dict[str, list[float]] = {m: [] for m in metrics}
            for day_stamps, day_columns in device_days(index, scale):
                stamps.extend(day_stamps)
                for m in metrics:
                    columns[m].extend(day_columns[m])
            days = [ts // DAY_MS for ts in stamps]
            table = {
                "device_id": [device_name(index)] * len(stamps),
                "timestamp": stamps,
                **{m: columns[m] for m in sorted(metrics)},
                "day_of_week": [(d + 3) % 7 for d in days],  # 1970-01-01 was a Thursday
                "hour_of_day": [ts % DAY_MS // 3_600_000 for ts in stamps],
            }
            writer.write_table(pa.table(table, schema=schema), row_group_size=1440 * 7)


# -- the loader against the commit path -------------------------------------------


def check_loader_matches_commit(workdir: Path) -> str:
    """Load a small data set through ``SqlStore.commit`` and through the loader; compare tables."""
    scale = Scale(devices=2, days=2, metrics=4)
    committed = open_sqlite_store(workdir / "check-commit.db")
    register(committed, scale)
    for index in range(scale.devices):
        device_id = device_name(index)
        for stamps, columns in device_days(index, scale):
            readings = [
                Reading(device_id, ts, {m: columns[m][i] for m in columns}, None)
                for i, ts in enumerate(stamps)
            ]
            for i in range(0, len(readings), 500):  # commits of 500 readings, as a collector would
                committed.commit(CommitBatch(readings=readings[i : i + 500]))
    committed.close()
    load_sqlite(workdir / "check-bulk.db", scale, lambda _n: None)
    tables = ("samples", "latest", "rollup_1m", "rollup_1h", "rollup_1d")
    with (
        closing(sqlite3.connect(workdir / "check-commit.db")) as a,
        closing(sqlite3.connect(workdir / "check-bulk.db")) as b,
    ):
        for table in tables:
            left = a.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall()
            right = b.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall()
            if len(left) != len(right) or not all(map(_same_row, left, right)):
                raise SystemExit(f"bulk loader differs from the commit path in {table}")
    return f"{scale.samples:,} samples; {', '.join(tables)} equal (sums to 1e-9 relative)"


def _same_row(a: Sequence[Any], b: Sequence[Any]) -> bool:
    # Sums are added in another order by commits of 500 readings than per day.
    return all(
        x == y or (isinstance(x, float) and math.isclose(x, y, rel_tol=1e-9))
        for x, y in zip(a, b, strict=True)
    )


# -- queries --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Choice:
    device: int
    day: int  # for the day @1m query
    month_start_day: int  # first of the 30 days of the energy query


def choose(rng: random.Random, scale: Scale) -> Choice:
    return Choice(
        device=rng.randrange(scale.devices),
        day=rng.randrange(scale.days),
        month_start_day=rng.randrange(max(scale.days - 30, 0) + 1),
    )


def iso(ts_ms: int) -> str:
    return str(ts_ms)  # the API takes epoch milliseconds as well as ISO 8601


def wattline_queries(client: httpx.Client, scale: Scale) -> dict[str, Callable[[Choice], Any]]:
    def get(path: str, **params: Any) -> Any:
        # The body is read but not parsed: decoding JSON is the client's time, not the server's.
        response = client.get(path, params=params, headers=AUTH)
        assert response.status_code == 200, response.text
        return response

    def day(c: Choice, layout: str = "buckets") -> Any:
        start = T0_MS + c.day * DAY_MS
        return get(
            f"/api/v1/devices/{device_name(c.device)}/telemetry",
            start=iso(start), end=iso(start + DAY_MS), interval="1m", layout=layout,
        )  # fmt: skip

    def year(c: Choice) -> Any:
        return get(
            f"/api/v1/devices/{device_name(c.device)}/telemetry",
            start=iso(T0_MS), end=iso(T0_MS + scale.days * DAY_MS), interval="1d",
        )  # fmt: skip

    def energy(c: Choice) -> Any:
        start = T0_MS + c.month_start_day * DAY_MS
        days = min(30, scale.days)
        return get("/api/v1/energy", start=iso(start), end=iso(start + days * DAY_MS),
                   interval="1d", all="true")  # fmt: skip

    return {
        "fleet latest": lambda _c: get("/api/v1/devices"),
        "day @1m": day,
        "day @1m columns": lambda c: day(c, "columns"),
        "year @1d": year,
        "fleet kWh 30d": energy,
    }


def duckdb_queries(path: Path, scale: Scale) -> dict[str, Callable[[Choice], Any]]:
    """The same answers from DuckDB over Parquet; energy as the sum of positive counter steps."""
    db = duckdb.connect()
    db.execute(f"CREATE VIEW p AS SELECT * FROM read_parquet('{path}')")
    metrics = ALL_METRICS[: scale.metrics]
    stats = ", ".join(f"avg({m}), min({m}), max({m}), count({m})" for m in metrics)

    def ts(ms: int) -> str:
        return f"epoch_ms({ms}::BIGINT)"

    def latest(_c: Choice) -> Any:
        last = ", ".join(f"arg_max({m}, timestamp)" for m in metrics)
        return db.execute(
            f"SELECT device_id, max(timestamp), {last} FROM p GROUP BY device_id"
        ).fetchall()

    def series(device: int, start: int, end: int, width: str) -> Any:
        return db.execute(
            f"SELECT time_bucket(INTERVAL '{width}', timestamp) AS b, {stats} FROM p"
            f" WHERE device_id = ? AND timestamp >= {ts(start)} AND timestamp < {ts(end)}"
            " GROUP BY b ORDER BY b",
            [device_name(device)],
        ).fetchall()

    def energy(c: Choice) -> Any:
        start = T0_MS + c.month_start_day * DAY_MS
        end = start + min(30, scale.days) * DAY_MS
        return db.execute(
            "SELECT date_trunc('day', timestamp) AS d, sum(step) / 1000 FROM ("
            " SELECT timestamp, greatest(energy_wh - lag(energy_wh) OVER"
            "  (PARTITION BY device_id ORDER BY timestamp), 0) AS step FROM p"
            f" WHERE timestamp >= {ts(start - DAY_MS)} AND timestamp < {ts(end)})"
            f" WHERE timestamp >= {ts(start)} GROUP BY d ORDER BY d"
        ).fetchall()

    def day(c: Choice) -> Any:
        return series(c.device, T0_MS + c.day * DAY_MS, T0_MS + (c.day + 1) * DAY_MS, "1 minute")

    return {
        "fleet latest": latest,
        "day @1m": day,
        "day @1m columns": day,  # the same answer: DuckDB hands it over in process
        "year @1d": lambda c: series(c.device, T0_MS, T0_MS + scale.days * DAY_MS, "1 day"),
        "fleet kWh 30d": energy,
    }  # fmt: skip


def time_all(
    tasks: dict[tuple[str, str], Callable[[Choice], Any]],
    scales: dict[str, Scale],
    reps: int,
    warmup: int,
    seed: int,
) -> dict[tuple[str, str], list[float]]:
    """Milliseconds per task; tasks interleaved in a shuffled order each round, so noise spreads."""
    rng = random.Random(seed)
    timings: dict[tuple[str, str], list[float]] = {key: [] for key in tasks}
    keys = list(tasks)
    for round_no in range(warmup + reps):
        # One draw per round, the same for every task (each at its own data's scale).
        draw = rng.random()
        rng.shuffle(keys)
        for key in keys:
            choice = choose(random.Random(draw), scales[key[0]])
            started = time.perf_counter()
            tasks[key](choice)
            elapsed_ms = (time.perf_counter() - started) * 1000
            if round_no >= warmup:
                timings[key].append(elapsed_ms)
    return timings


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


# -- the run --------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--metrics", type=int, default=4, choices=range(2, len(ALL_METRICS) + 1))
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--pg-devices", type=int, help="PostgreSQL's scale, if smaller")
    parser.add_argument("--pg-days", type=int, help="PostgreSQL's scale, if smaller")
    parser.add_argument("--reps", type=int, default=30, help="timed repetitions per query")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument(
        "--keep", type=Path, help="keep the loaded data here, and reuse what is already there"
    )
    return parser.parse_args(argv)


class Progress:
    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.started = self.shown = time.perf_counter()

    def __call__(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self.shown > 30 or self.done == self.total:
            self.shown = now
            rate = self.done / (now - self.started)
            print(f"  {self.label}: {self.done:,}/{self.total:,} samples, {rate:,.0f}/s",
                  file=sys.stderr, flush=True)  # fmt: skip


def prepare(name: str, scale: Scale, workdir: Path, kept: dict[str, Any]) -> tuple[Any, LoadStats]:
    """The loaded backend's store and its load statistics, loading unless kept data matches."""
    key = f"{name}-{scale.tag}"
    if name == "sqlite":
        path = workdir / f"{key}.db"
        if key in kept and path.exists():
            return open_sqlite_store(path), LoadStats(**kept[key]["stats"])
        path.unlink(missing_ok=True)
        started = time.perf_counter()
        load_sqlite(path, scale, Progress(key, scale.samples))
        stats = LoadStats(scale.samples, time.perf_counter() - started, sqlite_bytes(path), now())
        before = sqlite_tables(path)
        store = open_sqlite_store(path)
        stats.compact_seconds = compact(store, scale)
        store.close()
        with closing(sqlite3.connect(path)) as db:
            db.execute("VACUUM")  # freed pages would be reused by new rows; count them out
        stats.compacted_bytes = sqlite_bytes(path)
        stats.tables = f"before: {before}; after: {sqlite_tables(path)}"
        kept[key] = {"stats": asdict(stats)}
        return open_sqlite_store(path), stats
    if key in kept:
        url = kept[key]["url"]
        return open_postgres_store(url), LoadStats(**kept[key]["stats"])
    database = f"wattline_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database
    kept[key] = {"url": url, "stats": None}
    empty = postgres_bytes(url)
    started = time.perf_counter()
    load_postgres(url, scale, Progress(key, scale.samples))
    seconds = time.perf_counter() - started
    stats = LoadStats(scale.samples, seconds, postgres_bytes(url) - empty, now())
    before = postgres_tables(url)
    store = open_postgres_store(url)
    stats.compact_seconds = compact(store, scale)
    store.close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM FULL")  # freed space would be reused by new rows; count it out
        conn.execute("ANALYZE")
    stats.compacted_bytes = postgres_bytes(url) - empty
    stats.tables = f"before: {before}; after: {postgres_tables(url)}"
    kept[key]["stats"] = asdict(stats)
    return open_postgres_store(url), stats


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def drop_database(url: str) -> None:
    database = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    full = Scale(args.devices, args.days, args.metrics)
    pg = Scale(args.pg_devices or full.devices, args.pg_days or full.days, full.metrics)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    scales = {name: {"sqlite": full, "postgres": pg}[name] for name in backends}
    with ExitStack() as stack:
        if args.keep:
            workdir = args.keep
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="wl-query-")))
        meta_path = workdir / "kept.json"
        kept: dict[str, Any] = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        print("checking the bulk loader against the commit path ...", file=sys.stderr)
        check = check_loader_matches_commit(
            Path(stack.enter_context(tempfile.TemporaryDirectory()))
        )
        tasks: dict[tuple[str, str], Callable[[Choice], Any]] = {}
        task_scales: dict[str, Scale] = {}
        loads: dict[str, LoadStats] = {}
        for name, scale in scales.items():
            print(f"loading {name}: {scale} ...", file=sys.stderr, flush=True)
            try:
                store, loads[name] = prepare(name, scale, workdir, kept)
            finally:
                url = kept.get(f"postgres-{scale.tag}", {}).get("url")
                if name == "postgres" and url and not args.keep:
                    stack.callback(drop_database, url)  # also when the load failed
            stack.callback(store.close)
            meta_path.write_text(json.dumps(kept, indent=1))
            app = create_app(ApiServices(store, TOKEN, CollectorRegistry(), 120_000))
            client = stack.enter_context(served(app))
            tasks.update({(name, q): fn for q, fn in wattline_queries(client, scale).items()})
            task_scales[name] = scale
        for scale in set(scales.values()):
            parquet = workdir / f"data-{scale.tag}.parquet"
            if not parquet.exists():
                print(f"writing Parquet for {scale} ...", file=sys.stderr, flush=True)
                write_parquet(parquet, scale)
            duck = f"duckdb-{scale.tag}"
            tasks.update({(duck, q): fn for q, fn in duckdb_queries(parquet, scale).items()})
            task_scales[duck] = scale
        # As `wattline up` does once its app is built (runtime/garbage.py).
        settle_after_startup()
        print(f"timing {len(tasks)} tasks x {args.reps} ...", file=sys.stderr, flush=True)
        timings = time_all(tasks, task_scales, args.reps, args.warmup, args.seed)
    report(scales, loads, timings, check, args)


def report(
    scales: dict[str, Scale],
    loads: dict[str, LoadStats],
    timings: dict[tuple[str, str], list[float]],
    check: str,
    args: argparse.Namespace,
) -> None:
    print(
        f"{args.reps} timed requests per query after {args.warmup} warm-up rounds, queries and"
        f" backends interleaved in a shuffled order each round (seed {args.seed}). Wattline"
        " over HTTP on loopback: the app on uvicorn (one worker, as `wattline up` runs it,"
        " objects made at start-up frozen out of garbage collection) and a keep-alive"
        " httpx client, timing request to last byte of the body; DuckDB over the same"
        " data as one Parquet file."
    )
    print()
    print("| backend | data | query | p50 ms | p95 ms | DuckDB p50 ms | ratio (p50) |")
    print("|---|---|---|---:|---:|---:|---:|")
    for name, scale in scales.items():
        for query in QUERIES:
            ours = timings[(name, query)]
            theirs = timings[(f"duckdb-{scale.tag}", query)]
            duck = statistics.median(theirs)
            print(
                f"| {name} | {scale.tag} | {query} | {statistics.median(ours):.1f} |"
                f" {p(ours, 95):.1f} | {duck:.1f} | {statistics.median(ours) / duck:.2f} |"
            )
    print()
    for name, load in loads.items():
        print(
            f"- {name} load ({scales[name]}, {load.samples:,} samples): "
            f"{load.samples / load.seconds:,.0f} samples/s ({load.seconds / 60:.1f} min); "
            f"{load.bytes_on_disk / load.samples:.0f} bytes on disk per sample "
            f"({load.bytes_on_disk / 2**30:.1f} GiB, samples + tiers + latest); loaded "
            f"{load.loaded_at or 'in an earlier run'}; compacted in {load.compact_seconds:.0f} s"
            f" to {load.compacted_bytes / load.samples:.1f} bytes per sample"
            f" ({load.compacted_bytes / 2**20:.0f} MiB after VACUUM); {load.tables}"
        )
    print(f"- bulk loader checked against `SqlStore.commit`: {check}")
    print("- data: the `data` column is devices x days x metrics at one reading a minute.")


if __name__ == "__main__":
    main()
