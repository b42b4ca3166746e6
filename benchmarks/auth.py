"""Authentication costs: login with the chosen argon2id parameters, and what checking
a bearer credential adds to every request.

On SQLite in a temporary directory it makes an owner, then times

* ``login``: ``Accounts.login`` (argon2id verify, throttle, a refresh token
  written), ``--logins`` times;
* ``bearer: admin token``: the constant-time compare the bootstrap token costs;
* ``bearer: access token``: ``BearerAuthenticator.authenticate`` with a user's
  JWT (HS256 verify, then one query: membership, account and session);
* ``bearer: API key``: the same with an API key (a SHA-256 and the 30 s cache);

then serves the API on a real uvicorn on loopback (as ``wattline up`` runs it)
and times ``GET /api/v1/devices/{id}/telemetry/latest`` through a keep-alive
httpx client with each credential, the three interleaved request by request so
drift in a busy machine falls on all of them alike: the added latency is each
one's p50/p95 minus the admin token's (target: p95 added <= 1 ms).

Results go to stdout as Markdown.

    python benchmarks/auth.py --logins 20 --checks 2000 --requests 2000
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry
from served import served

from wattline.api.app import create_app
from wattline.api.services import ApiServices
from wattline.model.messages import Reading
from wattline.security.passwords import Argon2Parameters
from wattline.security.principal import Principal, PrincipalKind
from wattline.security.roles import Role
from wattline.security.service import IdentityService, build_identity
from wattline.storage.base import CommitBatch
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore
from wattline.storage.sqlite import open_sqlite_store

PASSWORD = "a benchmark's long password"
DEVICE = "bench-meter"


def timings_ms(action: Callable[[], object], times: int) -> list[float]:
    taken = []
    for _ in range(times):
        start = time.perf_counter()
        action()
        taken.append((time.perf_counter() - start) * 1000)
    return taken


def row(name: str, taken: list[float]) -> str:
    taken = sorted(taken)
    p95 = taken[min(len(taken) - 1, int(len(taken) * 0.95))]
    return f"| {name} | {len(taken)} | {statistics.median(taken):.3f} | {p95:.3f} |"


def http_rows(
    store: SqlStore, identity: IdentityService, bearers: dict[str, str], requests: int
) -> list[str]:
    now_ms = time.time_ns() // 1_000_000
    store.register_device(DEVICE, "meter", now_ms, tenant_id=DEFAULT_TENANT)
    reading = Reading(DEVICE, now_ms, {"power_w": 1.0, "energy_wh": 2.0})
    store.commit(CommitBatch(readings=[reading], seen_ms={DEVICE: now_ms}))
    services = ApiServices(
        store=store,
        admin_token=bearers["admin token"],
        registry=CollectorRegistry(),
        offline_after_ms=120_000,
        authenticator=identity.authenticator,
        identity=identity,
    )
    taken: dict[str, list[float]] = {name: [] for name in bearers}
    url = f"/api/v1/devices/{DEVICE}/telemetry/latest"
    headers = {name: {"Authorization": f"Bearer {b}"} for name, b in bearers.items()}
    with served(create_app(services)) as client:
        for rep in range(requests + 20):  # 20 warm-up rounds
            order = list(bearers)
            shift = rep % len(order)  # who goes first turns round
            for name in order[shift:] + order[:shift]:
                start = time.perf_counter()
                response = client.get(url, headers=headers[name])
                elapsed_ms = (time.perf_counter() - start) * 1000
                response.raise_for_status()
                if rep >= 20:
                    taken[name].append(elapsed_ms)
    base_p50, base_p95 = quantiles(taken["admin token"])
    rows = []
    for name, times in taken.items():
        p50, p95 = quantiles(times)
        rows.append(
            f"| {name} | {len(times)} | {p50:.3f} | {p95:.3f} "
            f"| {p50 - base_p50:+.3f} | {p95 - base_p95:+.3f} |"
        )
    return rows


def quantiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logins", type=int, default=20)
    parser.add_argument("--checks", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=2000, help="HTTP requests per credential")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = open_sqlite_store(Path(folder) / "wattline.db")
        identity = build_identity(store.identity, secrets.token_bytes(32))
        owner = Principal(PrincipalKind.BOOTSTRAP, "bench", DEFAULT_TENANT, Role.OWNER, "bench")
        identity.members.create_user(owner, "bench@example.org", PASSWORD, Role.OWNER)
        session = identity.accounts.login("bench@example.org", PASSWORD, None)
        key = identity.api_keys.create(owner, "bench", Role.VIEWER).secret
        admin = secrets.token_urlsafe(32)
        authenticate = identity.authenticator.authenticate
        rows = [
            row(
                "login",
                timings_ms(
                    lambda: identity.accounts.login("bench@example.org", PASSWORD, None),
                    args.logins,
                ),
            ),
            row(
                "bearer: admin token",
                timings_ms(
                    lambda: secrets.compare_digest(admin.encode(), admin.encode()), args.checks
                ),
            ),
            row(
                "bearer: access token",
                timings_ms(lambda: authenticate(session.access_token, None), args.checks),
            ),
            row("bearer: API key", timings_ms(lambda: authenticate(key, None), args.checks)),
        ]
        # a fresh session: the access token above has been checked, not expired
        fresh = identity.accounts.login("bench@example.org", PASSWORD, None).access_token
        bearers = {"admin token": admin, "user's access token (JWT)": fresh, "API key": key}
        over_http = http_rows(store, identity, bearers, args.requests)
        store.close()
    params = Argon2Parameters()
    print(
        f"argon2id: {params.memory_kib} KiB, {params.time_cost} passes, "
        f"{params.parallelism} lane(s); SQLite\n"
    )
    print("In process:\n")
    print("| operation | runs | median ms | p95 ms |\n|---|---|---|---|")
    print("\n".join(rows))
    print(
        "\nOver HTTP (uvicorn on loopback, keep-alive httpx client, one thread), "
        f"`GET /api/v1/devices/{{id}}/telemetry/latest`, {args.requests} requests per "
        "credential, interleaved:\n"
    )
    print(
        "| credential | requests | p50 ms | p95 ms | p50 added ms | p95 added ms |\n"
        "|---|---:|---:|---:|---:|---:|"
    )
    print("\n".join(over_http))


if __name__ == "__main__":
    main()
