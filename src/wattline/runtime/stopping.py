"""How a service process waits: until Ctrl-C or SIGTERM, or until one of its services dies."""

from __future__ import annotations

import asyncio
import signal

from wattline.ingest.collector import Collector
from wattline.runtime.errors import ServiceFailedError


def stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def wait_for_stop(
    stop: asyncio.Event, collector: Collector | None, api_task: asyncio.Task[None] | None = None
) -> None:
    """Until Ctrl-C / SIGTERM, or until a service dies (then raise, so the process exits)."""
    watched: set[asyncio.Task[object]] = {asyncio.create_task(stop.wait())}
    if collector is not None:
        watched.add(asyncio.create_task(_collector_failure(collector)))
    if api_task is not None:
        watched.add(api_task)
    done, pending = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
    for task in pending - {api_task}:
        task.cancel()
    if api_task is not None and api_task in done:
        api_task.result()
        raise ServiceFailedError("the API server stopped unexpectedly")
    if collector is not None and collector.failed.is_set():
        raise ServiceFailedError("the collector stopped on an unexpected error (logged above)")


async def _collector_failure(collector: Collector) -> None:
    # Polled: a thread blocked in Event.wait() would keep the process from exiting.
    while not collector.failed.is_set():  # noqa: ASYNC110
        await asyncio.sleep(0.5)
