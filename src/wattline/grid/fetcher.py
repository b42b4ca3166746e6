"""Fetches carbon intensity and weather into the store on a schedule, in one process.

Every run, the process holding the ``grid-fetch`` lease (``storage/sql/leases``)
fetches, for each tenant that set a carbon zone or a location, the hours from
``lookback_s`` ago to ``lookahead_s`` ahead (providers publish forecasts) and
stores them with their source. Other processes skip the run. A provider that
is down costs nothing but a warning: its hours are stored as fallback and
replaced by the next live answer (a fallback never replaces a live value).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from wattline.grid.providers import CarbonProvider, WeatherProvider
from wattline.grid.sources import fetch_carbon, fetch_weather
from wattline.storage.base import StoreUnavailableError
from wattline.storage.energy_data import EnergySettings, GridStore, GridValue

log = logging.getLogger(__name__)

LEASE = "grid-fetch"
STOP_TIMEOUT_S = 30.0


class Leases(Protocol):
    def try_acquire(self, name: str, holder: str, ttl_ms: int) -> bool: ...


class FetchStore(GridStore, Protocol):
    def settings_of_all(self) -> dict[str, EnergySettings]: ...


@dataclass(frozen=True, slots=True)
class FetchPlan:
    interval_s: float = 3600.0  # providers publish hourly
    lookback_s: float = 24 * 3600.0
    lookahead_s: float = 24 * 3600.0


class GridFetcher:
    """``run_once`` for tests and the CLI; ``start``/``stop`` run it in a thread."""

    def __init__(  # noqa: PLR0913, PLR0917 - the store, the lease, the providers, the schedule
        self,
        store: FetchStore,
        leases: Leases,
        holder: str,
        carbon: Sequence[CarbonProvider],
        weather: WeatherProvider | None,
        plan: FetchPlan | None = None,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._store = store
        self._leases = leases
        self._holder = holder
        self._carbon = list(carbon)
        self._weather = weather
        self._plan = plan or FetchPlan()
        self._clock_ms = clock_ms
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> dict[str, int] | None:
        """Values stored per tenant; None when another process holds the lease."""
        ttl_ms = int(self._plan.interval_s * 2000)
        if not self._leases.try_acquire(LEASE, self._holder, ttl_ms):
            return None
        now_ms = self._clock_ms()
        start_ms = now_ms - int(self._plan.lookback_s * 1000)
        end_ms = now_ms + int(self._plan.lookahead_s * 1000)
        stored: dict[str, int] = {}
        for tenant_id, settings in self._store.settings_of_all().items():
            values: list[GridValue] = []
            if settings.carbon_zone:
                values += fetch_carbon(self._carbon, settings.carbon_zone, start_ms, end_ms, now_ms)
            if settings.latitude_deg is not None and settings.longitude_deg is not None:
                site = (settings.latitude_deg, settings.longitude_deg)
                values += fetch_weather(self._weather, site, start_ms, end_ms, now_ms)
            self._store.put_grid_values(tenant_id, values)
            stored[tenant_id] = len(values)
        return stored

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="wattline-grid-fetch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except StoreUnavailableError as exc:
                # an outage is expected and retried: one line, not a traceback each pass
                log.warning("grid fetch: store unavailable, will retry: %s", exc)
            except Exception:
                # An outage must not end fetching for good; the next run retries.
                log.exception("grid fetch failed")
            self._stop.wait(self._plan.interval_s)
