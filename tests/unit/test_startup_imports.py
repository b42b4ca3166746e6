"""What starting ``wattline`` imports: backends only when configured, commands at their call.

Not a timing test: which modules a fresh interpreter holds after an import is
deterministic, so a heavy import creeping back to module level fails here
(docs/benchmarks.md, "start-up", has the times these keep down).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import wattline

SRC = Path(wattline.__file__).parent.parent

# Backends and analytics libraries: each is loaded when the configuration selects
# it (Redis, S3, PostgreSQL, the amqtt broker) or at its first use (Parquet files, models).
BACKENDS = ("redis", "boto3", "botocore", "pyarrow", "sklearn", "psycopg", "psycopg2", "amqtt")
# What the commands run (the API, the stores, the runtime): imported by the command.
COMMAND_BODIES = (
    "numpy",
    "sqlalchemy",
    "alembic",
    "fastapi",
    "uvicorn",
    "cryptography",
    "pydantic_settings",
    "wattline.runtime.up",
    "wattline.api.app",
)


def loaded_after(module: str) -> set[str]:
    """The names in sys.modules after `import module` in a fresh interpreter."""
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return set(json.loads(result.stdout))


def test_the_command_line_imports_no_backend_and_no_command_body() -> None:
    loaded = loaded_after("wattline.cli.main")
    assert loaded.isdisjoint(BACKENDS + COMMAND_BODIES), sorted(
        loaded & set(BACKENDS + COMMAND_BODIES)
    )


@pytest.mark.parametrize(
    "module", ["wattline.runtime.up", "wattline.runtime.collect", "wattline.api.app"]
)
def test_up_imports_no_backend_it_was_not_configured_for(module: str) -> None:
    loaded = loaded_after(module)
    assert loaded.isdisjoint(BACKENDS), sorted(loaded & set(BACKENDS))


def test_a_collector_imports_neither_the_api_nor_its_server() -> None:
    """``wattline collect`` runs ingest, alerts and commands, never HTTP: the API's
    modules were a fifth of its memory after imports (127 MB, now 103)."""
    loaded = loaded_after("wattline.runtime.collect")
    api = {name for name in loaded if name.startswith("wattline.api")}
    servers = loaded & {"fastapi", "starlette", "uvicorn", "wattline.runtime.up"}
    assert not api, sorted(api)
    assert not servers, sorted(servers)


def test_the_commit_process_opens_its_store_without_migrations_or_settings() -> None:
    """The commit process only commits beside the collector that migrated: without
    Alembic (and Mako) and the settings' pydantic its RSS in the ingest benchmark
    went 86 -> 65 MB."""
    loaded = loaded_after("wattline.runtime.commit_process; import wattline.storage.opening")
    heavy = loaded & {"alembic", "mako", "pydantic", "pydantic_settings", "wattline.config"}
    assert not heavy, sorted(heavy)
