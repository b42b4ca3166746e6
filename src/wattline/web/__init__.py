"""The dashboard's files: a static front end the API serves at ``/`` (docs/dashboard.md).

Plain HTML, ES modules and CSS, no build step (docs/adr/0019-static-dashboard.md):
every figure it shows and every action it takes goes through ``/api/v1`` with the
signed-in user's bearer token, so it can never do what the API forbids.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
