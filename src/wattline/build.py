"""What this installation of Wattline is: its version and the commit it was built from."""

from __future__ import annotations

import subprocess
from importlib import resources
from pathlib import Path

import wattline

UNKNOWN = "unknown"


def build_commit() -> str:
    """The git commit the installed package was built from (hatch_build.py writes it
    into ``wattline/BUILD``); in a git checkout, its HEAD; else ``unknown``."""
    try:
        written = resources.files(wattline).joinpath("BUILD").read_text().strip()
    except OSError:
        written = ""
    return written or _checkout_commit() or UNKNOWN


def _checkout_commit() -> str | None:
    # An editable install runs from the source tree: src/wattline -> the repository.
    root = Path(wattline.__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        found = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            ["git", "-C", str(root), "rev-parse", "HEAD"],  # noqa: S607 - git from PATH
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return found.stdout.strip() or None
