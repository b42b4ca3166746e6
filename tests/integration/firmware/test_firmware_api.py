"""/api/v1/firmware over SQLite and PostgreSQL: upload, download links, campaigns, steering."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, urlsplit

from tests.integration.firmware.conftest import Ota, add_devices
from tests.integration.security.tenants import ADMIN_TOKEN, bearer

from wattline.firmware.signing import verify
from wattline.model.events import Committed
from wattline.model.messages import Hello, OtaState, OtaStatus

ADMIN = bearer(ADMIN_TOKEN)
OPERATOR = bearer("operator-default")
VIEWER = bearer("viewer-default")
OTHER = bearer("owner-t2")
IMAGE = b"\x7fELF firmware 2.0.0 " * 100


def upload(ota: Ota, version: str, data: bytes = IMAGE, headers: dict[str, str] = ADMIN):
    return ota.client.post(
        "/api/v1/firmware/artifacts",
        params={"device_type": "smart_plug", "version": version},
        content=data,
        headers={**headers, "Content-Type": "application/octet-stream"},
    )


def report(device: str, job: str, state: OtaState, version: str, detail: str | None = None):
    return OtaStatus(device, job, version, state, None, detail, 0)


def test_upload_signs_the_manifest_and_refuses_duplicates_and_oversize(ota: Ota) -> None:
    made = upload(ota, "2.0.0")
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["sha256"] == hashlib.sha256(IMAGE).hexdigest()
    assert body["size_bytes"] == len(IMAGE)
    key = ota.client.get("/api/v1/firmware/signing-key", headers=OPERATOR).json()
    assert verify(key["public_key_pem"], body["manifest"], body["signature"])
    assert upload(ota, "2.0.0").status_code == 409
    too_big = upload(ota, "3.0.0", b"x" * (64 * 1024 + 1))
    assert too_big.status_code == 422
    assert too_big.json()["detail"][0]["loc"] == ["body", "body"]
    bad_version = upload(ota, "../evil")
    assert bad_version.status_code == 422
    assert bad_version.json()["detail"][0]["loc"] == ["query", "version"]
    assert upload(ota, "4.0.0", headers=OPERATOR).status_code == 403
    listed = ota.client.get("/api/v1/firmware/artifacts", headers=OPERATOR).json()
    assert [a["version"] for a in listed["artifacts"]] == ["2.0.0"]
    assert ota.client.get("/api/v1/firmware/artifacts", headers=OTHER).json()["artifacts"] == []
    other = ota.client.get(f"/api/v1/firmware/artifacts/{body['artifact_id']}", headers=OTHER)
    assert other.status_code == 404
    actions = [e.action for e in ota.audit_log.audit_page("default", None, 50)]
    assert "firmware.upload" in actions


def test_a_download_link_serves_its_artifact_to_its_device_until_it_expires(ota: Ota) -> None:
    artifact = upload(ota, "2.0.0").json()
    url = ota.firmware.links.url(artifact["artifact_id"], "plug-1", ota.clock())
    parts = urlsplit(url)
    assert url.startswith("http://wattline.test/api/v1/firmware/download/")
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    got = ota.client.get(parts.path, params=query)
    assert got.status_code == 200
    assert got.content == IMAGE
    assert got.headers["x-firmware-sha256"] == artifact["sha256"]
    for changed in (
        {"device": "plug-2"},
        {"expires": str(int(query["expires"]) + 1)},
        {"sig": "x"},
    ):
        assert ota.client.get(parts.path, params={**query, **changed}).status_code == 403
    second = upload(ota, "2.0.1").json()
    moved = parts.path.replace(artifact["artifact_id"], second["artifact_id"])
    assert ota.client.get(moved, params=query).status_code == 403
    ota.clock.advance(15 * 60 * 1000)
    expired = ota.client.get(parts.path, params=query)
    assert expired.status_code == 403
    assert "expired" in expired.json()["detail"]


def start(ota: Ota, artifact_id: str, **extra: object):
    body = {
        "artifact_id": artifact_id,
        "target": {"device_type": "smart_plug"},
        "waves_pct": [10, 50, 100],
        "soak_s": 60,
        "failure_threshold_pct": 20,
        **extra,
    }
    return ota.client.post("/api/v1/firmware/campaigns", json=body, headers=ADMIN)


def test_campaign_input_is_checked_field_by_field(ota: Ota) -> None:
    add_devices(ota.store, ["plug-1"], "smart_plug", "1.0.0")
    artifact = upload(ota, "2.0.0").json()["artifact_id"]
    cases = {
        "waves_pct": {"waves_pct": [50, 10, 100]},
        "target": {"target": {"device_type": "smart_plug", "tag": "lab"}},
        "target.device_ids": {"target": {"device_ids": ["nope"]}},
    }
    for field, extra in cases.items():
        answer = start(ota, artifact, **extra)
        assert answer.status_code == 422, (field, answer.text)
        assert answer.json()["detail"][0]["loc"] == ["body", *field.split(".")]
    assert start(ota, artifact, failure_threshold_pct=101).status_code == 422
    assert start(ota, "no-such").status_code == 404
    assert (
        ota.client.post("/api/v1/firmware/campaigns", json={}, headers=OPERATOR).status_code == 403
    )


def answer(ota: Ota, cid: str, states: dict[str, OtaState]) -> None:
    reports = [report(d, cid, s, "2.0.0", "boom") for d, s in states.items()]
    ota.runner.on_committed(Committed(ota_statuses=reports))
    ota.runner.run_once()


def paused_campaign(ota: Ota, ids: list[str]) -> tuple[str, list[str]]:
    """A campaign over ``ids`` paused by a failure in its second wave; that wave's devices."""
    add_devices(ota.store, ids, "smart_plug", "1.0.0")
    upload(ota, "1.0.0")
    artifact = upload(ota, "2.0.0").json()["artifact_id"]
    made = start(ota, artifact)
    assert made.status_code == 201, made.text
    campaign = made.json()
    cid = campaign["campaign_id"]
    assert [w["total"] for w in campaign["waves"]] == [1, 4, 5]

    ota.runner.run_once()
    first = [d for d, _ in ota.publisher.sent]
    assert len(first) == 1
    instruction = ota.publisher.sent[0][1]
    assert instruction["job_id"] == cid
    assert instruction["version"] == "2.0.0"
    answer(ota, cid, {first[0]: OtaState.SUCCEEDED})
    assert len(ota.publisher.sent) == 1  # soaking
    ota.clock.advance(60_000)
    ota.runner.run_once()
    second = [d for d, _ in ota.publisher.sent[1:]]
    assert len(second) == 4
    answer(ota, cid, {second[0]: OtaState.FAILED, second[1]: OtaState.SUCCEEDED})
    return cid, second


def test_a_campaign_pauses_itself_resumes_and_rolls_back(ota: Ota) -> None:
    ids = [f"plug-{i}" for i in range(10)]
    cid, second = paused_campaign(ota, ids)
    progress = ota.client.get(f"/api/v1/firmware/campaigns/{cid}", headers=OPERATOR).json()
    assert progress["state"] == "paused"
    assert "1 of 4 devices failed" in progress["reason"]
    ota.clock.advance(10 * 60_000)
    ota.runner.run_once()
    assert len(ota.publisher.sent) == 5  # no third wave while paused

    resumed = ota.client.post(f"/api/v1/firmware/campaigns/{cid}/resume", headers=ADMIN)
    assert resumed.json()["state"] == "running"
    answer(ota, cid, {second[2]: OtaState.SUCCEEDED, second[3]: OtaState.SUCCEEDED})
    ota.clock.advance(60_000)
    ota.runner.run_once()
    assert len(ota.publisher.sent) == 10  # the last wave

    devices = ota.client.get(f"/api/v1/firmware/campaigns/{cid}/devices", headers=OPERATOR)
    failed = [d for d in devices.json()["devices"] if d["state"] == "failed"]
    assert [(d["device_id"], d["detail"]) for d in failed] == [(second[0], "boom")]

    back = ota.client.post(f"/api/v1/firmware/campaigns/{cid}/rollback", headers=ADMIN)
    assert back.json()["state"] == "rolling_back"
    ota.runner.run_once()
    rollbacks = ota.publisher.sent[10:]
    assert sorted(d for d, _ in rollbacks) == sorted(ids)
    assert {i["version"] for _, i in rollbacks} == {"1.0.0"}
    ota.runner.on_committed(
        Committed(
            ota_statuses=[report(d, f"{cid}/rollback", OtaState.SUCCEEDED, "1.0.0") for d in ids]
        )
    )
    ota.runner.run_once()
    done = ota.client.get(f"/api/v1/firmware/campaigns/{cid}", headers=VIEWER)
    assert done.status_code == 403  # viewers do not see campaigns
    done = ota.client.get(f"/api/v1/firmware/campaigns/{cid}", headers=OPERATOR).json()
    assert done["state"] == "rolled_back"
    again = ota.client.post(f"/api/v1/firmware/campaigns/{cid}/rollback", headers=ADMIN)
    assert again.status_code == 409
    actions = {e.action for e in ota.audit_log.audit_page("default", None, 50)}
    assert {"campaign.start", "campaign.resume", "campaign.rollback"} <= actions
    other = ota.client.get(f"/api/v1/firmware/campaigns/{cid}", headers=OTHER)
    assert other.status_code == 404


def test_abort_cancels_what_was_not_sent_and_silent_devices_time_out(ota: Ota) -> None:
    add_devices(ota.store, [f"plug-{i}" for i in range(4)], "smart_plug", "1.0.0")
    artifact = upload(ota, "2.0.0").json()["artifact_id"]
    cid = start(ota, artifact, device_timeout_s=30, failure_threshold_pct=100).json()["campaign_id"]
    ota.runner.run_once()
    ota.clock.advance(30_000)
    ota.runner.run_once()
    devices = ota.client.get(f"/api/v1/firmware/campaigns/{cid}/devices", headers=OPERATOR)
    silent = [d for d in devices.json()["devices"] if d["state"] == "failed"]
    assert [d["detail"] for d in silent] == ["no report within 30 s"]
    aborted = ota.client.post(f"/api/v1/firmware/campaigns/{cid}/abort", headers=ADMIN).json()
    assert aborted["state"] == "aborted"
    assert aborted["states"] == {"failed": 1, "cancelled": 3}
    assert (
        ota.client.post(f"/api/v1/firmware/campaigns/{cid}/pause", headers=ADMIN).status_code == 409
    )
    # rollback needs the previous version's artifact
    refused = ota.client.post(f"/api/v1/firmware/campaigns/{cid}/rollback", headers=ADMIN)
    assert refused.status_code == 409
    assert "1.0.0" in refused.json()["detail"]


def test_a_device_already_on_the_version_is_left_alone(ota: Ota) -> None:
    add_devices(ota.store, ["plug-1"], "smart_plug", "2.0.0")
    artifact = upload(ota, "2.0.0").json()["artifact_id"]
    answer = start(ota, artifact)
    assert answer.status_code == 422
    assert "no device" in answer.json()["detail"][0]["msg"]


def test_a_hello_with_the_new_version_confirms_an_update_without_its_ota_report(
    ota: Ota,
) -> None:
    """The OTA status report is lost; the hello after the reboot still tells the truth:
    the target version is a success, another version after the reboot a failure."""
    ids = ["plug-a", "plug-b", "plug-c"]
    add_devices(ota.store, ids, "smart_plug", "1.0.0")
    artifact = upload(ota, "2.0.0").json()["artifact_id"]
    cid = start(ota, artifact, waves_pct=[100]).json()["campaign_id"]
    ota.runner.run_once()
    assert sorted(d for d, _ in ota.publisher.sent) == ids
    answer(ota, cid, {"plug-b": OtaState.REBOOTED})
    hellos = [Hello("plug-a", "smart_plug", "2.0.0"), Hello("plug-b", "smart_plug", "1.0.0")]
    hellos.append(Hello("plug-c", "smart_plug", "1.0.0"))  # not rebooted yet: says nothing
    ota.runner.on_committed(Committed(hellos=hellos))
    ota.runner.run_once()
    devices = ota.client.get(f"/api/v1/firmware/campaigns/{cid}/devices", headers=OPERATOR)
    states = {d["device_id"]: (d["state"], d["detail"]) for d in devices.json()["devices"]}
    assert states == {
        "plug-a": ("succeeded", "hello reports version 2.0.0"),
        "plug-b": ("failed", "rebooted into version 1.0.0, expected 2.0.0"),
        "plug-c": ("sent", None),
    }
