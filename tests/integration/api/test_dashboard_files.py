"""The dashboard's page and files: served from the package, under a strict CSP, and
every module the page imports is there (a missing one is a blank page in a browser)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.integration.api.test_api import services

from wattline.api.app import create_app
from wattline.api.dashboard import DASHBOARD_CSP
from wattline.storage.sql import SqlStore
from wattline.web import STATIC_DIR

_LINKS = re.compile(r"""(?:src|href)="(/ui/[^"]+)\"""")
_IMPORTS = re.compile(r"""(?:from\s+|import\()\s*"(\.{1,2}/[^"]+)\"""")


@pytest.fixture
def client(store: SqlStore) -> Iterator[TestClient]:
    with TestClient(create_app(services(store))) as test_client:
        yield test_client


def test_the_page_has_a_strict_policy_and_no_inline_script(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == DASHBOARD_CSP
    assert "script-src 'self';" in DASHBOARD_CSP
    assert "unsafe" not in DASHBOARD_CSP
    assert page.headers["x-frame-options"] == "DENY"
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.DOTALL)
    # the app's module only: it loads the chart library when a page draws a chart
    assert len(scripts) == 1
    assert all(' src="/ui/' in attributes and body == "" for attributes, body in scripts)
    assert "style=" not in page.text


def test_every_file_the_page_names_is_served(client: TestClient) -> None:
    links = _LINKS.findall(client.get("/").text)
    assert "/ui/app.js" in links
    # and the chart library chart.js adds when a page draws a chart
    for link in [*links, "/ui/vendor/uplot/uPlot.iife.min.js"]:
        asset = client.get(link)
        assert asset.status_code == 200, link
        assert asset.headers["cache-control"] == "no-cache"


def test_every_relative_import_resolves_to_a_file() -> None:
    modules = sorted(STATIC_DIR.rglob("*.js"))
    assert len(modules) >= 12
    for module in modules:
        if "vendor" in module.parts:
            continue
        for target in _IMPORTS.findall(module.read_text()):
            assert (module.parent / target).resolve().is_file(), f"{module.name}: {target}"


def test_no_module_writes_markup_from_data() -> None:
    """Values from the API become text nodes (dom.js), never HTML."""
    for module in STATIC_DIR.rglob("*.js"):
        if "vendor" not in module.parts:
            assert "innerHTML" not in module.read_text(), module.name


@pytest.mark.parametrize("path", ["/ui/../__init__.py", "/ui/%2e%2e/__init__.py", "/ui/nope.js"])
def test_nothing_outside_the_static_folder_is_served(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404
