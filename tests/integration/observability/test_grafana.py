"""The operators' Grafana dashboard asks only for metrics Wattline exports."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

from fastapi.testclient import TestClient
from tests.integration.api.test_api import services

from wattline.api.app import create_app
from wattline.config import Settings
from wattline.observability.certificates import CertificateExpiry
from wattline.observability.metrics import IngestMetrics
from wattline.runtime.services import process_registry
from wattline.storage.sql import SqlStore

DASHBOARD = Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "dashboards"
_SUFFIXES = {"histogram": ("_bucket", "_count", "_sum")}  # counters are typed as `x_total`
_METRIC = re.compile(r"\b((?:wattline|process)_[a-z0-9_]+)")


def exported_names(store: SqlStore) -> set[str]:
    """Every sample name a `wattline up` process exposes (histograms with their suffixes)."""
    # The process's registry as the runtime builds it (process, build info), with
    # the ingest and certificate families `wattline up` adds.
    registry = process_registry(Settings(), "up")
    app_services = replace(services(store), registry=registry)
    IngestMetrics(registry)
    registry.register(CertificateExpiry({"device": lambda: 2e9}))
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
