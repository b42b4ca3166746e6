"""What each consumer needs of the store: one small protocol per consumer.

A component names the port it uses, not the whole store: the committer needs
two methods (``IngestStore``), the retention scheduler one. A test then
passes the in-memory store (``storage/memory.py``) or a three-line fake
instead of a 17-method stand-in. ``SqlStore`` (SQLite and PostgreSQL)
implements every port; ``TelemetryStore`` is their union, for the API
services that serve every route from one store.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

from wattline.model.decisions import Automation, Decision, Home, Outcome, StoredDecision
from wattline.model.devices import Device, LatestValue, Location
from wattline.model.findings import Finding, StoredFinding
from wattline.model.sequence import SeqState
from wattline.security.audit import AuditEntry, AuditEvent, ChainReport
from wattline.security.device_credentials import DeviceCredential
from wattline.security.pairing import PairingClaim
from wattline.security.roles import Role
from wattline.storage.base import (
    CommitBatch,
    CommitResult,
    DedupCounts,
    QuarantineRecord,
    RawPoint,
)
from wattline.storage.bucketing import BucketPlan, SeriesBucket
from wattline.storage.retention import RetentionStore
from wattline.storage.tenancy import DeviceGrant, DeviceShare, SharedDevice, UserRef

if TYPE_CHECKING:
    # NumPy columns and SQLAlchemy filter types: named here, loaded only where a
    # store is built (the command line imports this module and neither of them).
    from wattline.storage.columns import SeriesColumns
    from wattline.storage.keyset import DeviceFilter, DeviceSummary
    from wattline.storage.sql.intelligence import DecisionFilter, FindingFilter

__all__ = [
    "AuditStore",
    "CredentialStore",
    "DeviceExport",
    "DeviceSharing",
    "IngestDiagnostics",
    "IngestStore",
    "IntelligenceStore",
    "PairingClaim",
    "PairingStore",
    "PointReader",
    "QuarantineStore",
    "Registry",
    "RetentionStore",
    "SeriesReader",
    "TelemetryStore",
]


class IngestStore(Protocol):
    """The committer's port: commit a batch; which devices the registry knows."""

    def commit(self, batch: CommitBatch) -> CommitResult: ...

    def stage(self, batch: CommitBatch) -> CommitResult:
        """Commit a batch with its readings staged, for ``fold`` to move on (ADR 0033)."""
        ...

    def fold(self, max_devices: int, min_age_ms: int = 0) -> CommitResult | None:
        """Fold staged readings of up to ``max_devices`` devices with a row staged at least
        ``min_age_ms`` ago; None: there were none."""
        ...

    def existing_devices(self, device_ids: Iterable[str]) -> set[str]: ...


class QuarantineStore(Protocol):
    """Rejected messages kept with their reason, newest first (replay and the API)."""

    def quarantine(
        self,
        limit: int,
        reason: str | None = None,
        ids: Sequence[int] | None = None,
        before_id: int | None = None,
    ) -> list[QuarantineRecord]: ...


class Registry(Protocol):
    """The devices: create, look up, list, page, delete; each call within one tenant.

    A device of another tenant is not found (None, left out of lists), so the
    API answers it as it answers a device that does not exist. A device shared
    with a user is readable (``readable_device``) from any tenant the user acts in.
    """

    def existing_devices(self, device_ids: Iterable[str]) -> set[str]: ...

    def all_device_ids(self) -> list[str]: ...

    def register_device(
        self,
        device_id: str,
        device_type: str | None,
        now_ms: int,
        tags: Sequence[str] | None = None,
        *,
        tenant_id: str,
    ) -> tuple[Device, bool]: ...

    def list_devices(self, *, tenant_id: str) -> list[Device]: ...

    def device_page(
        self, after: str | None, limit: int, where: DeviceFilter | None = None, *, tenant_id: str
    ) -> list[Device]: ...

    def device_summary(
        self, *, tenant_id: str, now_ms: int, offline_after_ms: int
    ) -> DeviceSummary: ...

    def get_device(self, device_id: str, *, tenant_id: str) -> Device | None: ...

    def set_location(
        self, device_id: str, location: Location | None, *, tenant_id: str
    ) -> Device | None: ...

    def readable_device(
        self, device_id: str, *, tenant_id: str, user_id: str | None
    ) -> DeviceGrant | None: ...

    def readable_device_ids(
        self, device_ids: Iterable[str], *, tenant_id: str, user_id: str | None
    ) -> set[str]: ...

    def delete_device(self, device_id: str, *, tenant_id: str) -> dict[str, int] | None: ...


class DeviceSharing(Protocol):
    """Shares of one tenant's device with users of other tenants (the smart-plug seed)."""

    def find_user(self, id_or_email: str) -> UserRef | None: ...

    def share_device(  # noqa: PLR0913 - the share's fields
        self,
        device_id: str,
        *,
        tenant_id: str,
        user: UserRef,
        role: Role,
        shared_by: str,
        now_ms: int,
    ) -> DeviceShare | None: ...

    def device_shares(self, device_id: str, *, tenant_id: str) -> list[DeviceShare] | None: ...

    def revoke_share(self, device_id: str, *, tenant_id: str, user_id: str) -> bool: ...

    def shared_devices(self, user_id: str) -> list[SharedDevice]: ...


class PointReader(Protocol):
    """Raw readings of one device, a page at a time (``storage/series.py`` pages on it)."""

    def raw_points(  # noqa: PLR0913 - the range, its filter and the page
        self,
        device_id: str,
        start_ms: int,
        end_ms: int,
        fields: Sequence[str] | None,
        limit: int,
        *,
        after_ms: int | None = None,
        descending: bool = False,
    ) -> list[RawPoint]: ...


class SeriesReader(PointReader, Protocol):
    """Stored telemetry: raw points, one metric's points, planned buckets, latest values."""

    def latest_values(
        self, device_ids: Sequence[str] | None = None
    ) -> dict[str, list[LatestValue]]: ...

    def metric_points(
        self, device_id: str, metric: str, start_ms: int, end_ms: int
    ) -> list[tuple[int, float]]: ...

    def series(
        self,
        device_ids: Sequence[str],
        plan: BucketPlan,
        fields: Sequence[str] | None,
        with_ends: bool = False,
    ) -> dict[str, list[SeriesBucket]]: ...

    def series_columns(
        self,
        device_ids: Sequence[str],
        plan: BucketPlan,
        fields: Sequence[str] | None,
        with_ends: bool = False,
    ) -> dict[str, SeriesColumns]:
        """``series`` column-wise, for answers written straight to JSON."""
        ...


class IngestDiagnostics(Protocol):
    """What ingest recorded about one device: its sequence state and dedup counters."""

    def sequence_state(self, device_id: str) -> SeqState | None: ...

    def dedup_counts(self, device_id: str) -> DedupCounts | None: ...


class DeviceExport(Protocol):
    """Every stored row of one device, table by table (archived before a delete)."""

    def device_rows(self, table_name: str, device_id: str) -> Iterator[list[dict[str, object]]]: ...


class TelemetryStore(
    IngestStore,
    QuarantineStore,
    Registry,
    DeviceSharing,
    SeriesReader,
    IngestDiagnostics,
    DeviceExport,
    RetentionStore,
    Protocol,
):
    """Every port, plus health and shutdown: what the API services hold."""

    def ping(self) -> None: ...

    def close(self) -> None: ...


class CredentialStore(Protocol):
    """Devices' credentials, by their secrets' hashes (``storage/sql/credentials.py``)."""

    def add_credential(self, credential: DeviceCredential, secret_hash: str | None) -> None:
        """``secret_hash`` None: a certificate, whose secret (its key) Wattline never sees."""
        ...

    def device_credentials(self, device_id: str) -> list[DeviceCredential]: ...

    def revoke_credential(self, device_id: str, credential_id: str, now_ms: int) -> bool: ...

    def credential_for_secret(self, secret_hash: str) -> DeviceCredential | None: ...

    def revoked_certificates(self) -> list[tuple[str, int]]:
        """(serial, revoked_ms) of every revoked certificate, all tenants: the CRL's entries."""
        ...


class PairingStore(Protocol):
    """Short-lived pairing codes, by hash, and the claim that moves a device into a tenant."""

    def add_pairing_code(
        self, code_hash: str, device_id: str, created_ms: int, expires_ms: int
    ) -> None: ...

    def claim_pairing_code(
        self, code_hash: str, *, tenant_id: str, claimed_by: str, now_ms: int
    ) -> tuple[PairingClaim, str | None]: ...


class AuditStore(Protocol):
    """The audit log: append-only, one hash chain (``storage/sql/audit.py``)."""

    def append(self, event: AuditEvent) -> AuditEntry: ...

    def audit_page(
        self, tenant_id: str, before_seq: int | None, limit: int, action: str | None = None
    ) -> list[AuditEntry]: ...

    def verify(self) -> ChainReport: ...


class DeviceNames(Protocol):
    """Devices' display names, per tenant (storage/sql/device_names.py)."""

    def set_name(self, device_id: str, name: str, now_ms: int, *, tenant_id: str) -> None: ...

    def names(self, device_ids: Iterable[str], *, tenant_id: str) -> dict[str, str]: ...


class IntelligenceStore(Protocol):
    """Anomaly findings, homes and decisions (``storage/sql/intelligence.py``)."""

    def tenant_devices(self) -> list[tuple[str, str]]: ...

    def record_findings(
        self, tenant_id: str, findings: Sequence[Finding], found_ms: int
    ) -> int: ...

    def findings_page(
        self, tenant_id: str, where: FindingFilter, before_id: int | None, limit: int
    ) -> list[StoredFinding]: ...

    def put_home(self, tenant_id: str, home: Home, now_ms: int) -> bool: ...

    def get_home(self, tenant_id: str, home_id: str) -> Home | None: ...

    def list_homes(self, tenant_id: str) -> list[Home]: ...

    def record_decision(self, tenant_id: str, decision: Decision) -> int: ...

    def decisions_page(
        self, tenant_id: str, where: DecisionFilter, before_id: int | None, limit: int
    ) -> list[StoredDecision]: ...

    def count_decisions(self, tenant_id: str, where: DecisionFilter) -> int: ...

    def get_decision(self, tenant_id: str, decision_id: int) -> StoredDecision | None: ...

    def set_automation(self, tenant_id: str, decision_id: int, automation: Automation) -> bool: ...

    def decisions_to_measure(self, now_ms: int, limit: int) -> list[StoredDecision]: ...

    def set_outcome(self, tenant_id: str, decision_id: int, outcome: Outcome) -> bool: ...
