"""The event loop the long-running commands (``up``, ``serve``, ``collect``) run on.

uvloop where it is installed, unless ``WATTLINE_EVENT_LOOP=asyncio``. In ``wattline
up`` at 10,000 readings/s to 100 WebSocket clients, the API's loop writes a frame
per message and client, 10,000 socket writes a second, beside the collector's
threads in the same process; on uvloop the live stream's p50 and p99 fell by a
sixth in six alternating pairs (docs/benchmarks.md, session 22).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from wattline.config import EventLoopChoice
from wattline.runtime.errors import StartupError

T = TypeVar("T")

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def loop_factory(choice: EventLoopChoice) -> LoopFactory | None:
    """uvloop's loop factory, or None for asyncio's own loop."""
    if choice == "asyncio":
        return None
    try:
        import uvloop  # noqa: PLC0415 - optional: only where it is installed
    except ImportError:
        if choice == "uvloop":
            raise StartupError(
                "WATTLINE_EVENT_LOOP=uvloop, but uvloop is not installed "
                "(pip install uvloop, or WATTLINE_EVENT_LOOP=auto)"
            ) from None
        return None
    factory: LoopFactory = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T], choice: EventLoopChoice) -> T:
    """``asyncio.run`` on the chosen loop."""
    try:
        factory = loop_factory(choice)
    except StartupError:
        main.close()  # never awaited: no "coroutine was never awaited" warning
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
