"""Authentication costs: login with the chosen argon2id parameters, and what checking
a bearer credential adds to every request.

On SQLite in a temporary directory it makes an owner, then times

* ``login``: ``Accounts.login`` (argon2id verify, throttle, a refresh token
  written), ``--logins`` times;
* ``bearer: admin token``: the constant-time compare the bootstrap token costs;
* ``bearer: access token``: ``BearerAuthenticator.authenticate`` with a user's
  JWT (HS256 verify, then one query: membership, account and session);
* ``bearer: API key``: the same with an API key (a SHA-256 and the 30 s cache).

Results go to stdout as Markdown.

    python benchmarks/auth.py --logins 20 --checks 2000
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from wattline.security.passwords import Argon2Parameters
from wattline.security.principal import Principal, PrincipalKind
from wattline.security.roles import Role
from wattline.security.service import build_identity
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sqlite import open_sqlite_store

PASSWORD = "a benchmark's long password"


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logins", type=int, default=20)
    parser.add_argument("--checks", type=int, default=2000)
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
        store.close()
    params = Argon2Parameters()
    print(
        f"argon2id: {params.memory_kib} KiB, {params.time_cost} passes, "
        f"{params.parallelism} lane(s); SQLite\n"
    )
    print("| operation | runs | median ms | p95 ms |\n|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
