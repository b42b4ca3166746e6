"""The layering of ARCHITECTURE.md, checked: dependencies point inwards.

The import-linter contracts live in pyproject.toml ([tool.importlinter]); this
test runs them, so `make test` fails on an import that runs upward.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import wattline

SRC = Path(wattline.__file__).parent
ROOT = SRC.parents[1]


def test_import_contracts_are_kept() -> None:
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports is not None, "import-linter is a dev dependency"
    result = subprocess.run(
        [lint_imports, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


# Pure libraries a pure package may build on: msgspec's Struct is the model's value
# type (no I/O; ADR 0031), for its constructor's speed on the ingest path.
PURE_LIBRARIES = {"model": ("msgspec",), "analytics": ()}


@pytest.mark.parametrize("package", ["model", "analytics"])
def test_pure_packages_import_only_the_standard_library_and_the_model(package: str) -> None:
    outside: list[str] = []
    for path in sorted((SRC / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            outside += [
                f"{path.name}: {name}"
                for name in names
                if name.split(".")[0] not in sys.stdlib_module_names
                and name.split(".")[0] not in PURE_LIBRARIES[package]
                and not name.startswith(("wattline.model", f"wattline.{package}"))
            ]
    assert outside == []
