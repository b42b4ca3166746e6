"""When the certificates Wattline issues or serves expire, for the operator's alert.

``wattline_certificate_expiry_timestamp_seconds{kind}``: the Unix time at which the
nearest certificate of each kind expires (``ca``: Wattline's CA; ``broker``: the
embedded broker's TLS certificate; ``device``: the first unrevoked device
certificate, of every tenant). A timestamp, not a countdown, as Prometheus advises
for the time of an event: the alert subtracts ``time()``. A kind with no
certificate has no series.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("wattline.observability")

# Scrapes come every 15-60 s; expiries move by days. Looked up at most once a
# minute, so a scrape never waits on the database twice in a row.
_CACHE_S = 60.0

# Each kind's source: the expiry as Unix seconds, None when there is no certificate.
ExpirySource = Callable[[], float | None]


class CertificateExpiry(Collector):
    def __init__(
        self,
        sources: Mapping[str, ExpirySource],
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sources = dict(sources)
        self._monotonic = monotonic
        self._cached: dict[str, tuple[float, float | None]] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "wattline_certificate_expiry_timestamp_seconds",
            "When the nearest certificate of each kind (ca, broker, device) expires, Unix time",
            labels=["kind"],
        )
        for kind in self._sources:
            expiry = self._expiry(kind)
            if expiry is not None:
                family.add_metric([kind], expiry)
        yield family

    def _expiry(self, kind: str) -> float | None:
        now = self._monotonic()
        cached = self._cached.get(kind)
        if cached is not None and now - cached[0] < _CACHE_S:
            return cached[1]
        try:
            expiry = self._sources[kind]()
        except Exception as exc:
            # A scrape must answer even when the database is down: the kind's
            # series is missing from this scrape, and the log says why.
            log.warning("certificate expiry of %s unknown: %s", kind, exc)
            return None
        self._cached[kind] = (now, expiry)
        return expiry
