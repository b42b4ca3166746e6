"""Schemathesis against the API's own OpenAPI document: no 5xx, every response as declared."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import replace
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from prometheus_client import CollectorRegistry
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.schemas import OpenApiSchema
from tests.integration.api.test_api import AUTH, T0, services

from wattline.api.app import create_app
from wattline.api.ratelimit import MemoryRateLimiter as RateLimiter
from wattline.api.routers.pairing import claims_throttle
from wattline.api.services import wall_clock_ms
from wattline.archive.blobs import FolderBlobs
from wattline.archive.folder import FolderArchive
from wattline.config import Settings
from wattline.firmware.download_links import DownloadLinks
from wattline.firmware.service import FirmwareService
from wattline.firmware.signing import FirmwareSigner
from wattline.ingest.committer import Committer
from wattline.ingest.interpret import InterpretConfig
from wattline.ingest.sources.http import HttpIngest
from wattline.intelligence.advisor import Advisor
from wattline.intelligence.forecaster import Forecaster
from wattline.intelligence.jobs import AnomalyScanner
from wattline.intelligence.models import ModelCache
from wattline.model.messages import Reading
from wattline.observability.metrics import IngestMetrics
from wattline.protocols.adapters import build_adapters
from wattline.runtime.commands import command_service
from wattline.runtime.intelligence import DEFAULT_SIGNALS
from wattline.schedules.service import ScheduleService
from wattline.security import ca
from wattline.security.passwords import FAST_FOR_TESTS
from wattline.security.service import build_identity
from wattline.storage.audit_sink import StoreAuditSink
from wattline.storage.base import CommitBatch
from wattline.storage.sql.audit import SqlAuditStore
from wattline.storage.sql.device_names import SqlDeviceNames
from wattline.storage.sql.energy import SqlEnergyData
from wattline.storage.sql.firmware import SqlFirmware
from wattline.storage.sql.intelligence import SqlIntelligence
from wattline.storage.sql.schedules import SqlSchedules
from wattline.storage.sqlite import open_sqlite_store


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> OpenApiSchema:
    folder: Path = tmp_path_factory.mktemp("schema")
    store = open_sqlite_store(folder / "wattline.db")
    readings = [Reading("m1", T0 + i * 60_000, {"power_w": float(i)}, i) for i in range(60)]
    store.commit(CommitBatch(readings=readings, seen_ms={"m1": T0}, register=["m1"]))
    # users and keys, so the auth, users and api-keys routes answer too
    identity = build_identity(store.identity, b"k" * 32, argon2=FAST_FOR_TESTS)
    # the whole pipeline and the audit log, so ingest, replay and the audit list
    # answer instead of a documented 501
    audit_log = SqlAuditStore(store.engine)
    archive = FolderArchive(folder / "archive")
    committer = Committer(
        store,
        archive,
        InterpretConfig(adapters=build_adapters(["smartsolar"])),
        IngestMetrics(CollectorRegistry()),
        auto_register=False,
    )
    intelligence = SqlIntelligence(store.engine)
    forecaster = Forecaster(store, ModelCache())
    app_services = replace(
        services(store),
        replay=committer.replay,
        http_ingest=HttpIngest(committer, "devices"),
        rate_limiter=RateLimiter(rate_per_s=1e6, burst=1_000_000),
        deleted_devices_dir=folder / "deleted",
        credentials=store,
        audit=StoreAuditSink(audit_log, CollectorRegistry()),
        audit_log=audit_log,
        identity=identity,
        authenticator=identity.authenticator,
        authority=ca.create_authority("Schema CA", dt.datetime.now(dt.UTC)),
        publish_crl=lambda _crl: None,
        pairing=store,
        pairing_throttle=claims_throttle(),
        energy_data=SqlEnergyData(store.engine),
        # the seed-shaped routes' collaborators (api/compat)
        device_names=SqlDeviceNames(store.engine),
        tokenless_ingest_limiter=RateLimiter(rate_per_s=1e6, burst=1_000_000),
        archive=archive,
        intelligence=intelligence,
        anomaly_scanner=AnomalyScanner(store),
        forecaster=forecaster,
        advisor=Advisor(store, intelligence, DEFAULT_SIGNALS, forecaster),
        firmware=FirmwareService(
            SqlFirmware(store.engine),
            FolderBlobs(folder / "firmware"),
            FirmwareSigner.in_directory(folder / "firmware-key"),
            DownloadLinks(b"k" * 32, "http://testserver"),
            store,
            wall_clock_ms,
        ),
        schedules=ScheduleService(SqlSchedules(store.engine), wall_clock_ms, store),
        commands=command_service(Settings(), store),
    )
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(app_services))


# Streams that never end while the server runs: an example would wait forever.
# tests/integration/live covers them (auth, filters, 404, 422).
ENDLESS = {"GET /api/v1/stream"}


# Examples per operation and mode. 10 keeps the suite near its time budget (25 took
# 8 of its 30 minutes); WATTLINE_SCHEMA_EXAMPLES=100 for a deeper search before a release.
EXAMPLES = int(os.environ.get("WATTLINE_SCHEMA_EXAMPLES", "10"))


# schemathesis' own pytest plugin (from_fixture) fails on pytest 9's nodes, so
# each operation's strategy is run under a plain hypothesis test instead.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_keeps_its_contract(api_schema: OpenApiSchema, mode: GenerationMode) -> None:
    """Positive cases fit the document, negative ones do not: both must get a documented answer."""
    failures: list[str] = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if operation.label in ENDLESS:
            continue

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(operation.as_strategy(generation_mode=mode))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers=AUTH, checks=[not_a_server_error, response_schema_conformance]
            )

        try:
            check()
        except Unsatisfiable:
            continue  # nothing to get wrong: the operation takes no input (GET /health)
        except (Exception, FailureGroup) as exc:
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
