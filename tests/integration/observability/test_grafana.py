"""The operators' Grafana dashboard asks only for metrics Wattline exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, ProcessCollector
from tests.integration.api.test_api import services

from wattline.api.app import create_app
from wattline.observability.metrics import IngestMetrics
from wattline.storage.sql import SqlStore

DASHBOARD = Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "dashboards"
_SUFFIXES = {"histogram": ("_bucket", "_count", "_sum")}  # counters are typed as `x_total`
_METRIC = re.compile(r"\b((?:wattline|process)_[a-z0-9_]+)")


def exported_names(store: SqlStore) -> set[str]:
    """Every sample name a `wattline up` process exposes (histograms with their suffixes)."""
    app_services = services(store)
    registry: CollectorRegistry = app_services.registry
    IngestMetrics(registry)
    ProcessCollector(registry=registry)
    with TestClient(create_app(app_services)) as client:
        client.get("/livez")  # so the HTTP families have a sample
        text = client.get("/metrics").text
    # From the TYPE lines: a labelled family with no sample yet still counts.
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(" ", 3)
            names |= {f"{family}{suffix}" for suffix in _SUFFIXES.get(kind, ("",))}
    return names


def test_every_panel_queries_metrics_that_exist(store: SqlStore) -> None:
    exported = exported_names(store)
    for path in sorted(DASHBOARD.glob("*.json")):
        dashboard = json.loads(path.read_text())
        assert dashboard["panels"], path
        for panel in dashboard["panels"]:
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                names = set(_METRIC.findall(target["expr"]))
                assert names, (panel["title"], target["expr"])
                assert names <= exported, (panel["title"], sorted(names - exported))
