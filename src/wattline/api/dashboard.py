"""The dashboard at ``/``: one HTML page and its files under ``/ui`` (docs/dashboard.md).

The page holds no data and no secret: it signs in through ``/api/v1/auth/login``
and reads everything through ``/api/v1`` with the user's bearer token, so it is
public, as the login form of any site is. Its Content-Security-Policy allows
scripts, styles and connections from this origin only: no inline script, no
third-party file, no frame (docs/adr/0019-static-dashboard.md).
"""

from __future__ import annotations

import os
from os import PathLike

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

from wattline.api.deps import PUBLIC
from wattline.web import STATIC_DIR

ASSETS_URL = "/ui"
# 'self' in connect-src covers ws: and wss: to this host (CSP Level 3), which the
# live chart needs; uPlot sizes its elements through element.style, which CSP allows.
DASHBOARD_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# The files change only with a Wattline release; a browser revalidates them each
# time (cheap: ETag and 304) so a new release is never mixed with a cached old module.
_REVALIDATE = "no-cache"


class DashboardFiles(StaticFiles):
    """The dashboard's modules, styles and vendored chart library."""

    def file_response(
        self,
        full_path: PathLike[str] | str,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = _REVALIDATE
        return response


def add_dashboard(app: FastAPI) -> None:
    """``GET /`` answers the page; ``/ui/...`` its files."""
    index = STATIC_DIR / "index.html"

    @app.get("/", include_in_schema=False, dependencies=[PUBLIC])
    def dashboard() -> FileResponse:
        return FileResponse(
            index,
            media_type="text/html",
            headers={"Content-Security-Policy": DASHBOARD_CSP, "Cache-Control": _REVALIDATE},
        )

    app.mount(ASSETS_URL, DashboardFiles(directory=STATIC_DIR), name="dashboard")
