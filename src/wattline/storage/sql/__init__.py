"""The store on SQLAlchemy Core, shared by the SQLite and PostgreSQL backends.

Backends differ only in how the engine is made and which dialect's INSERT
(with ON CONFLICT) they use; every statement is written once. ``SqlStore``
implements every port of ``storage/ports.py`` by handing each call to the part
that owns it:

- ``commit.py``: one batch, one transaction (ingest);
- ``registry.py``: the devices table, every look-up scoped to a tenant;
- ``shares.py``: devices shared with users of other tenants;
- ``reads.py``: latest values, raw points, planned buckets, diagnostics;
- ``quarantine.py``: rejected messages;
- ``credentials.py``: devices' credentials (hashes of their secrets);
- ``identity.py``: tenants, users, sessions and API keys (``identity``);
- retention here: chunked deletes (``storage/pruning.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence

from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError

from wattline.model.devices import Device, LatestValue, Location
from wattline.model.sequence import SeqState
from wattline.security.device_credentials import DeviceCredential
from wattline.security.pairing import PairingClaim
from wattline.security.roles import Role
from wattline.storage.base import (
    CommitBatch,
    CommitResult,
    DedupCounts,
    QuarantineRecord,
    RawPoint,
    StoreUnavailableError,
)
from wattline.storage.bucketing import BucketPlan, SeriesBucket
from wattline.storage.columns import SeriesColumns
from wattline.storage.compaction import Compacted, compact_before
from wattline.storage.keyset import DeviceFilter, DeviceSummary
from wattline.storage.pruning import delete_before, series_keys
from wattline.storage.retention import Progress, Removed
from wattline.storage.sql.alerts import SqlAlerts
from wattline.storage.sql.commit import SqlCommit
from wattline.storage.sql.connections import Connections, InsertFactory, retrying_deadlocks
from wattline.storage.sql.credentials import SqlCredentials
from wattline.storage.sql.identity import SqlIdentity
from wattline.storage.sql.notifications import SqlNotifications
from wattline.storage.sql.pairing import SqlPairing
from wattline.storage.sql.quarantine import SqlQuarantine
from wattline.storage.sql.reads import SqlReads
from wattline.storage.sql.registry import SqlRegistry
from wattline.storage.sql.shares import SqlShares
from wattline.storage.tenancy import DEFAULT_TENANT, DeviceGrant, DeviceShare, SharedDevice, UserRef

__all__ = ["InsertFactory", "SqlStore"]


class SqlStore:
    def __init__(self, engine: Engine, insert: InsertFactory) -> None:
        self._connections = Connections(engine)
        self._insert = insert
        self._registry = SqlRegistry(self._connections, insert)
        self._quarantine = SqlQuarantine(self._connections, insert)
        self._reads = SqlReads(self._connections)
        self._credentials = SqlCredentials(self._connections)
        self._pairing = SqlPairing(self._connections)
        self._shares = SqlShares(self._connections, insert)
        self._commit = SqlCommit(self._connections, insert, self._registry, self._quarantine)
        self._identity = SqlIdentity(self._connections, insert)
        self._alerts = SqlAlerts(self._connections, insert)
        self._notifications = SqlNotifications(self._connections, insert)

    @property
    def engine(self) -> Engine:
        return self._connections.engine

    @property
    def alerts(self) -> SqlAlerts:
        """Alert rules, their state and alerts (``alerts/``, the alert routes)."""
        return self._alerts

    @property
    def notifications(self) -> SqlNotifications:
        """Notification channels and deliveries."""
        return self._notifications

    @property
    def identity(self) -> SqlIdentity:
        """Tenants, users, sessions and API keys (``security.identity_store.IdentityStore``)."""
        return self._identity

    # -- ingest -------------------------------------------------------------

    # Each one transaction, which two collectors can deadlock on PostgreSQL: run again then.
    def commit(self, batch: CommitBatch) -> CommitResult:
        return retrying_deadlocks(lambda: self._commit.commit(batch))

    def stage(self, batch: CommitBatch) -> CommitResult:
        return retrying_deadlocks(lambda: self._commit.stage(batch))

    def fold(self, max_devices: int, min_age_ms: int = 0) -> CommitResult | None:
        return retrying_deadlocks(lambda: self._commit.fold(max_devices, min_age_ms))

    def existing_devices(self, device_ids: Iterable[str]) -> set[str]:
        return self._registry.existing_devices(device_ids)

    # -- registry -----------------------------------------------------------

    def all_device_ids(self) -> list[str]:
        return self._registry.all_device_ids()

    def register_device(
        self,
        device_id: str,
        device_type: str | None,
        now_ms: int,
        tags: Sequence[str] | None = None,
        *,
        tenant_id: str,
    ) -> tuple[Device, bool]:
        return self._registry.register_device(
            device_id, device_type, now_ms, tags, tenant_id=tenant_id
        )

    def list_devices(self, *, tenant_id: str) -> list[Device]:
        return self._registry.list_devices(tenant_id=tenant_id)

    def device_page(
        self, after: str | None, limit: int, where: DeviceFilter | None = None, *, tenant_id: str
    ) -> list[Device]:
        return self._registry.device_page(after, limit, where, tenant_id=tenant_id)

    def device_summary(
        self, *, tenant_id: str, now_ms: int, offline_after_ms: int
    ) -> DeviceSummary:
        return self._registry.device_summary(
            tenant_id=tenant_id, now_ms=now_ms, offline_after_ms=offline_after_ms
        )

    def get_device(self, device_id: str, *, tenant_id: str) -> Device | None:
        return self._registry.get_device(device_id, tenant_id=tenant_id)

    def set_location(
        self, device_id: str, location: Location | None, *, tenant_id: str
    ) -> Device | None:
        return self._registry.set_location(device_id, location, tenant_id=tenant_id)

    def readable_device(
        self, device_id: str, *, tenant_id: str, user_id: str | None
    ) -> DeviceGrant | None:
        return self._registry.readable_device(device_id, tenant_id=tenant_id, user_id=user_id)

    def readable_device_ids(
        self, device_ids: Iterable[str], *, tenant_id: str, user_id: str | None
    ) -> set[str]:
        return self._registry.readable_device_ids(device_ids, tenant_id=tenant_id, user_id=user_id)

    def delete_device(self, device_id: str, *, tenant_id: str) -> dict[str, int] | None:
        return self._registry.delete_device(device_id, tenant_id=tenant_id)

    # -- shares -------------------------------------------------------------

    def find_user(self, id_or_email: str) -> UserRef | None:
        return self._shares.find_user(id_or_email)

    def share_device(  # noqa: PLR0913 - the share's fields
        self,
        device_id: str,
        *,
        tenant_id: str,
        user: UserRef,
        role: Role,
        shared_by: str,
        now_ms: int,
    ) -> DeviceShare | None:
        return self._shares.share_device(
            device_id,
            tenant_id=tenant_id,
            user=user,
            role=role,
            shared_by=shared_by,
            now_ms=now_ms,
        )

    def device_shares(self, device_id: str, *, tenant_id: str) -> list[DeviceShare] | None:
        return self._shares.device_shares(device_id, tenant_id=tenant_id)

    def revoke_share(self, device_id: str, *, tenant_id: str, user_id: str) -> bool:
        return self._shares.revoke_share(device_id, tenant_id=tenant_id, user_id=user_id)

    def shared_devices(self, user_id: str) -> list[SharedDevice]:
        return self._shares.shared_devices(user_id)

    def device_rows(self, table_name: str, device_id: str) -> Iterator[list[dict[str, object]]]:
        return self._registry.device_rows(table_name, device_id)

    # -- reads --------------------------------------------------------------

    def latest_values(
        self, device_ids: Sequence[str] | None = None
    ) -> dict[str, list[LatestValue]]:
        return self._reads.latest_values(device_ids)

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
    ) -> list[RawPoint]:
        return self._reads.raw_points(
            device_id, start_ms, end_ms, fields, limit, after_ms=after_ms, descending=descending
        )

    def metric_points(
        self, device_id: str, metric: str, start_ms: int, end_ms: int
    ) -> list[tuple[int, float]]:
        return self._reads.metric_points(device_id, metric, start_ms, end_ms)

    def series(
        self,
        device_ids: Sequence[str],
        plan: BucketPlan,
        fields: Sequence[str] | None,
        with_ends: bool = False,
    ) -> dict[str, list[SeriesBucket]]:
        return self._reads.series(device_ids, plan, fields, with_ends)

    def series_columns(
        self,
        device_ids: Sequence[str],
        plan: BucketPlan,
        fields: Sequence[str] | None,
        with_ends: bool = False,
    ) -> dict[str, SeriesColumns]:
        return self._reads.series_columns(device_ids, plan, fields, with_ends)

    def sequence_state(self, device_id: str) -> SeqState | None:
        return self._reads.sequence_state(device_id)

    def dedup_counts(self, device_id: str) -> DedupCounts | None:
        return self._reads.dedup_counts(device_id)

    # -- quarantine ---------------------------------------------------------

    def quarantine(
        self,
        limit: int,
        reason: str | None = None,
        ids: Sequence[int] | None = None,
        before_id: int | None = None,
    ) -> list[QuarantineRecord]:
        return self._quarantine.quarantine(limit, reason, ids, before_id)

    # -- device credentials -------------------------------------------------

    def add_credential(self, credential: DeviceCredential, secret_hash: str | None) -> None:
        self._credentials.add(credential, secret_hash)

    def device_credentials(self, device_id: str) -> list[DeviceCredential]:
        return self._credentials.of_device(device_id)

    def revoke_credential(self, device_id: str, credential_id: str, now_ms: int) -> bool:
        return self._credentials.revoke(device_id, credential_id, now_ms)

    def credential_for_secret(self, secret_hash: str) -> DeviceCredential | None:
        return self._credentials.for_secret(secret_hash)

    def revoked_certificates(self) -> list[tuple[str, int]]:
        return self._credentials.revoked_certificates()

    def nearest_certificate_expiry_ms(self) -> int | None:
        return self._credentials.nearest_certificate_expiry_ms()

    # -- pairing ------------------------------------------------------------

    def add_pairing_code(
        self, code_hash: str, device_id: str, created_ms: int, expires_ms: int
    ) -> None:
        self._pairing.add(code_hash, device_id, created_ms, expires_ms)

    def claim_pairing_code(
        self, code_hash: str, *, tenant_id: str, claimed_by: str, now_ms: int
    ) -> tuple[PairingClaim, str | None]:
        # Unclaimed devices are the default tenant's: where auto-registration puts them.
        return self._pairing.claim(
            code_hash,
            tenant_id=tenant_id,
            claimed_by=claimed_by,
            unclaimed_tenant=DEFAULT_TENANT,
            now_ms=now_ms,
        )

    # -- retention ----------------------------------------------------------

    def remove_before(
        self,
        cutoffs_ms: Mapping[str, int],
        *,
        stop: threading.Event | None = None,
        progress: Progress | None = None,
    ) -> dict[str, Removed]:
        """Per tier ("raw", "1m", "1h", "1d"), delete rows older than its cutoff, in chunks.

        A set ``stop`` ends the work between two chunks; tiers not reached are left out.
        """
        removed: dict[str, Removed] = {}
        try:
            keys = series_keys(self.engine)
            for tier, cutoff_ms in cutoffs_ms.items():
                if stop is not None and stop.is_set():
                    break
                rows = delete_before(
                    self.engine, tier, cutoff_ms, keys, stop=stop, progress=progress
                )
                removed[tier] = Removed(rows=rows)
        except OperationalError as exc:
            raise StoreUnavailableError(str(exc.orig)) from exc
        return removed

    def compact_before(self, cutoff_ms: int, *, stop: threading.Event | None = None) -> Compacted:
        """Closed days before ``cutoff_ms`` (a UTC day start) packed into blocks (ADR 0018)."""
        try:
            return compact_before(self.engine, self._insert, cutoff_ms, stop=stop)
        except OperationalError as exc:
            raise StoreUnavailableError(str(exc.orig)) from exc

    # -- health -------------------------------------------------------------

    def ping(self) -> None:
        with self._connections.read() as conn:
            conn.execute(select(1))

    def close(self) -> None:
        self.engine.dispose()
