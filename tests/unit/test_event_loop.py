"""Which event loop ``up``, ``serve`` and ``collect`` run on (``WATTLINE_EVENT_LOOP``)."""

from __future__ import annotations

import asyncio
import sys

import pytest
from pydantic import ValidationError

from wattline.config import Settings
from wattline.runtime import event_loop
from wattline.runtime.errors import StartupError


async def loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_auto_runs_on_uvloop_where_it_is_installed() -> None:
    pytest.importorskip("uvloop")
    assert event_loop.run(loop_module(), "auto").startswith("uvloop")
    assert event_loop.run(loop_module(), "uvloop").startswith("uvloop")


def test_asyncio_keeps_the_standard_loop() -> None:
    assert event_loop.run(loop_module(), "asyncio").startswith("asyncio")
    assert event_loop.loop_factory("asyncio") is None


def test_without_uvloop_auto_falls_back_and_uvloop_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop -> ImportError
    assert event_loop.run(loop_module(), "auto").startswith("asyncio")
    main = loop_module()
    with pytest.raises(StartupError, match="uvloop is not installed"):
        event_loop.run(main, "uvloop")
    assert main.cr_frame is None  # closed, so never reported as "never awaited"


def test_the_setting_is_read_from_the_environment_and_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().event_loop == "auto"
    monkeypatch.setenv("WATTLINE_EVENT_LOOP", "asyncio")
    assert Settings().event_loop == "asyncio"
    monkeypatch.setenv("WATTLINE_EVENT_LOOP", "trio")
    with pytest.raises(ValidationError, match="'auto', 'uvloop' or 'asyncio'"):
        Settings()


def test_a_failure_inside_propagates_and_the_loop_is_closed() -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    async def failing() -> None:
        loops.append(asyncio.get_running_loop())
        raise RuntimeError("inside")

    with pytest.raises(RuntimeError, match="inside"):
        event_loop.run(failing(), "auto")
    assert loops[0].is_closed()
