"""Build hook: the git commit a wheel or sdist is built from, in ``wattline/BUILD``.

``wattline version`` and the ``wattline_build_info`` metric read it. The commit is
WATTLINE_BUILD_COMMIT when set (a container build, where .git is not copied in),
else ``git rev-parse HEAD`` of the source tree, else the BUILD an sdist already
carries (a wheel built from an sdist), else ``unknown``. Editable installs get
none: a checkout asks git at run time (wattline/build.py).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

BUILD_FILE = "src/wattline/BUILD"


class BuildCommitHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":
            return
        commit = os.environ.get("WATTLINE_BUILD_COMMIT") or _git_commit(Path(self.root))
        carried = Path(self.root) / BUILD_FILE
        if commit is None and carried.exists():
            source = str(carried)  # a wheel from an sdist: the sdist's BUILD
        else:
            with tempfile.NamedTemporaryFile("w", suffix=".BUILD", delete=False) as file:
                file.write((commit or "unknown") + "\n")
            source = self._written = file.name
        # Included by force: .gitignore keeps a stray BUILD out of the source tree.
        target = BUILD_FILE if self.target_name == "sdist" else "wattline/BUILD"
        build_data["force_include"][source] = target

    def finalize(self, *_: object) -> None:
        written = getattr(self, "_written", None)
        if written is not None:
            Path(written).unlink(missing_ok=True)


def _git_commit(root: Path) -> str | None:
    if not (root / ".git").exists():
        return None
    try:
        found = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            ["git", "-C", str(root), "rev-parse", "HEAD"],  # noqa: S607 - git from PATH
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return found.stdout.strip() or None
