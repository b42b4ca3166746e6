"""The campaign runner: applies devices' OTA reports and moves campaigns on, on a timer.

Reports arrive from ingest's commit listener (``on_committed``) on the
committing thread; they are only queued there. ``run_once`` applies them, then,
when this process holds the ``ota-campaigns`` lease, advances every active
campaign by ``waves.next_step``. Tests call ``run_once`` with an injected clock;
``start`` runs it every ``interval_s`` on a thread of its own.

A device's row is set to ``sent`` before its instruction is published, so a
device that answers at once never finds its update still ``pending``.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import replace

from wattline.firmware.download_links import DownloadLinks
from wattline.firmware.ports import FirmwareStore, Leases, OtaPublisher
from wattline.firmware.signing import manifest
from wattline.firmware.waves import (
    Decision,
    Step,
    apply_hello,
    apply_status,
    campaign_of_job,
    job_id,
    next_step,
    timed_out,
)
from wattline.model.events import Committed
from wattline.model.firmware import Artifact, Campaign, CampaignState, DeviceUpdate, UpdateState
from wattline.model.messages import OtaStatus
from wattline.storage.base import StoreUnavailableError

log = logging.getLogger("wattline.firmware")

LEASE_NAME = "ota-campaigns"
# Reports beyond this wait in the broker's queue instead of memory: ingest drops
# nothing, it only stops telling us (and a silent device times out, visibly).
MAX_QUEUED_REPORTS = 50_000
# A campaign does at most this many steps per round (send, settle, send the next...).
_STEPS_PER_ROUND = 4


class CampaignRunner:
    def __init__(  # noqa: PLR0913 - the runner's collaborators and its timing knobs
        self,
        store: FirmwareStore,
        publisher: OtaPublisher,
        links: DownloadLinks,
        clock_ms: Callable[[], int],
        *,
        leases: Leases | None = None,
        holder: str = "local",
        interval_s: float = 1.0,
        lease_ttl_ms: int = 15_000,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._links = links
        self._clock_ms = clock_ms
        self._leases = leases
        self._holder = holder
        self._interval_s = interval_s
        self._lease_ttl_ms = lease_ttl_ms
        self._reports: queue.Queue[OtaStatus] = queue.Queue(MAX_QUEUED_REPORTS)
        # (device id, firmware version, when heard) from hellos, bounded like the reports
        self._hellos: queue.Queue[tuple[str, str, int]] = queue.Queue(MAX_QUEUED_REPORTS)
        self.dropped_reports = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- fed by ingest ----------------------------------------------------------

    def on_committed(self, event: Committed) -> None:
        for report in event.ota_statuses:
            try:
                self._reports.put_nowait(report)
            except queue.Full:
                self.dropped_reports += 1
        seen = event.seen_ms or {}
        for hello in event.hellos:
            if hello.firmware_version is None:
                continue
            heard_ms = seen.get(hello.device_id) or self._clock_ms()
            try:
                self._hellos.put_nowait((hello.device_id, hello.firmware_version, heard_ms))
            except queue.Full:
                self.dropped_reports += 1

    # -- one round --------------------------------------------------------------

    def run_once(self) -> None:
        self.apply_reports()
        if self._leases is not None and not self._leases.try_acquire(
            LEASE_NAME, self._holder, self._lease_ttl_ms
        ):
            return
        for campaign in self._store.active_campaigns():
            self.advance(campaign)

    def apply_reports(self) -> int:
        return self._apply_ota_statuses() + self._apply_hellos()

    def _apply_ota_statuses(self) -> int:
        applied = 0
        while True:
            try:
                report = self._reports.get_nowait()
            except queue.Empty:
                return applied
            if report.job_id is None:
                continue  # a version-only report names no campaign
            campaign_id, phase = campaign_of_job(report.job_id)
            found = self._store.update_of(campaign_id, report.device_id)
            if found is None:
                continue
            current, tenant_id = found
            changed = apply_status(current, report, phase)
            if changed is not None:
                self._store.save_updates([changed], tenant_id=tenant_id)
                applied += 1

    def _apply_hellos(self) -> int:
        """Confirm (or fail) in-flight updates from the versions devices booted into:
        the hello after the reboot is the device's own word, even when its OTA
        status report was lost. One read per active campaign per round, however
        many devices said hello."""
        versions: dict[str, tuple[str, int]] = {}
        while True:
            try:
                device_id, version, heard_ms = self._hellos.get_nowait()
            except queue.Empty:
                break
            versions[device_id] = (version, heard_ms)  # the latest hello wins
        if not versions:
            return 0
        applied = 0
        for campaign in self._store.active_campaigns():
            updates = self._store.updates(campaign.campaign_id, tenant_id=campaign.tenant_id)
            changed = [
                step
                for update in updates
                if update.device_id in versions
                and (step := apply_hello(update, *versions[update.device_id])) is not None
            ]
            if changed:
                self._store.save_updates(changed, tenant_id=campaign.tenant_id)
                applied += len(changed)
        return applied

    def advance(self, campaign: Campaign) -> Campaign:
        for _ in range(_STEPS_PER_ROUND):
            updates = self._store.updates(campaign.campaign_id, tenant_id=campaign.tenant_id)
            updates = self._time_out(campaign, updates)
            decision = next_step(campaign, updates, self._clock_ms())
            if decision.step is Step.WAIT:
                break
            campaign = self._apply(campaign, decision, updates)
        return campaign

    def _time_out(self, campaign: Campaign, updates: list[DeviceUpdate]) -> list[DeviceUpdate]:
        now_ms = self._clock_ms()
        silent = set(timed_out(updates, now_ms, campaign.device_timeout_ms))
        if not silent:
            return updates
        detail = f"no report within {campaign.device_timeout_ms // 1000} s"
        failed = [
            replace(u, state=UpdateState.FAILED, detail=detail, updated_ms=now_ms)
            for u in updates
            if u.device_id in silent
        ]
        self._store.save_updates(failed, tenant_id=campaign.tenant_id)
        by_id = {u.device_id: u for u in failed}
        return [by_id.get(u.device_id, u) for u in updates]

    def _apply(
        self, campaign: Campaign, decision: Decision, updates: list[DeviceUpdate]
    ) -> Campaign:
        now_ms = self._clock_ms()
        if decision.step is Step.SEND:
            assert decision.wave is not None
            if decision.wave != campaign.wave:
                campaign = replace(campaign, wave=decision.wave, settled_ms=None)
            self._send(campaign, updates, decision.wave)
        elif decision.step is Step.PAUSE:
            log.warning("campaign %s paused: %s", campaign.campaign_id, decision.reason)
            campaign = replace(campaign, state=CampaignState.PAUSED, reason=decision.reason)
        elif decision.step is Step.SETTLED:
            campaign = replace(campaign, settled_ms=now_ms)
        elif decision.step is Step.COMPLETE:
            campaign = replace(campaign, state=CampaignState.COMPLETED)
        elif decision.step is Step.ROLLED_BACK:
            campaign = replace(campaign, state=CampaignState.ROLLED_BACK)
        campaign = replace(campaign, updated_ms=now_ms)
        self._store.save_campaign(campaign)
        return campaign

    def _send(self, campaign: Campaign, updates: list[DeviceUpdate], wave: int) -> None:
        rolling_back = campaign.state is CampaignState.ROLLING_BACK
        due = [
            u
            for u in updates
            if u.state is UpdateState.PENDING and (rolling_back or u.wave == wave)
        ]
        now_ms = self._clock_ms()
        sent = [replace(u, state=UpdateState.SENT, sent_ms=now_ms, updated_ms=now_ms) for u in due]
        self._store.save_updates(sent, tenant_id=campaign.tenant_id)
        artifacts: dict[str, Artifact | None] = {}
        failed: list[DeviceUpdate] = []
        for update in sent:
            version = update.target_version
            if version not in artifacts:
                artifacts[version] = self._store.artifact_of_version(
                    campaign.device_type, version, tenant_id=campaign.tenant_id
                )
            artifact = artifacts[version]
            if artifact is None:
                failed.append(replace(update, state=UpdateState.FAILED, detail="no artifact"))
                continue
            try:
                self._publisher.send(update.device_id, self._instruction(update, artifact))
            except Exception as exc:
                failed.append(
                    replace(update, state=UpdateState.FAILED, detail=f"not sent: {exc}"[:300])
                )
        self._store.save_updates(failed, tenant_id=campaign.tenant_id)

    def _instruction(self, update: DeviceUpdate, artifact: Artifact) -> dict[str, object]:
        return {
            "job_id": job_id(update.campaign_id, update.phase),
            "version": artifact.version,
            "url": self._links.url(artifact.artifact_id, update.device_id, self._clock_ms()),
            "size": artifact.size_bytes,
            "sha256": artifact.sha256,
            "manifest": manifest(artifact),
            "signature": artifact.signature,
        }

    # -- on a thread ------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="wattline-ota", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._leases is not None:
            self._leases.release(LEASE_NAME, self._holder)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except StoreUnavailableError as exc:
                # an outage is expected and retried: one line, not a traceback each pass
                log.warning("firmware campaigns: store unavailable, will retry: %s", exc)
            except Exception:
                log.exception("campaign round failed; retrying")
            self._stop.wait(self._interval_s)
