"""Swagger UI at /docs and ReDoc at /redoc, served from files installed with Wattline.

FastAPI's own pages load their JavaScript and CSS from a CDN, so on a machine
without internet access (a site gateway, often) /docs was a blank page. The
fastapi-offline package ships the same Swagger UI 5 and ReDoc bundles; only its
files are used here, the pages are FastAPI's.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from wattline.api.deps import PUBLIC

STATIC_URL = "/docs-static"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def with_csp(page: HTMLResponse) -> HTMLResponse:
    """The page with a Content-Security-Policy allowing its own files and inline scripts only.

    Inline scripts are allowed by hash, not with 'unsafe-inline'. Styles stay
    inline-able: both UIs set style attributes from JavaScript. ReDoc runs its
    search in a worker made from a blob, and both show images as data: URLs.
    """
    html = bytes(page.body).decode()
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )
    return page


def add_docs(app: FastAPI, title: str) -> None:
    """Call on an app created with ``docs_url=None, redoc_url=None``."""
    static = files("fastapi_offline") / "static"
    app.mount(STATIC_URL, StaticFiles(directory=str(static)), name="docs-static")

    # Built once: the pages are the same for every request, and so are their hashes.
    swagger_page = with_csp(
        get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_URL}/favicon.png",
        )
    )
    redoc_page = with_csp(
        get_redoc_html(
            openapi_url="/openapi.json",
            title=f"{title} - ReDoc",
            redoc_js_url=f"{STATIC_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{STATIC_URL}/favicon.png",
            with_google_fonts=False,
        )
    )

    @app.get("/docs", include_in_schema=False, dependencies=[PUBLIC])
    async def swagger_ui() -> HTMLResponse:
        return swagger_page

    @app.get("/redoc", include_in_schema=False, dependencies=[PUBLIC])
    async def redoc() -> HTMLResponse:
        return redoc_page
