"""Signed download links and manifest signatures; the simulated device's checks. Pure."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattline.firmware.download_links import DownloadLinks, LinkRefusedError
from wattline.firmware.signing import FirmwareSigner, manifest, verify
from wattline.model.firmware import Artifact
from wattline.simulator.ota import FailureSpread, play_update

LINKS = DownloadLinks(b"k" * 32, "https://wattline.example/", ttl_ms=60_000)
T0 = 1_800_000_000_000
IMAGE = b"firmware image" * 50


def parts(url: str) -> tuple[str, str, int, str]:
    path, query = url.split("?")
    values = dict(item.split("=") for item in query.split("&"))
    return path.rsplit("/", 1)[1], values["device"], int(values["expires"]), values["sig"]


def test_a_link_is_good_for_its_artifact_and_device_until_it_expires() -> None:
    url = LINKS.url("a1", "plug-1", T0)
    assert url.startswith("https://wattline.example/api/v1/firmware/download/a1?")
    artifact, device, expires, sig = parts(url)
    LINKS.check(artifact, device, expires, sig, T0 + 59_999)
    with pytest.raises(LinkRefusedError, match="expired"):
        LINKS.check(artifact, device, expires, sig, T0 + 60_000)
    for changed in (
        ("a2", device, expires),
        (artifact, "plug-2", expires),
        (artifact, device, expires + 1),
    ):
        with pytest.raises(LinkRefusedError, match="signature"):
            LINKS.check(*changed, sig, T0)
    other_secret = DownloadLinks(b"x" * 32, "https://wattline.example/")
    with pytest.raises(LinkRefusedError):
        other_secret.check(artifact, device, expires, sig, T0)


@given(sig=st.text(max_size=64))
def test_no_made_up_signature_passes(sig: str) -> None:
    with pytest.raises(LinkRefusedError):
        LINKS.check("a1", "plug-1", T0 + 1, sig, T0)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        DownloadLinks(b"short", "https://x")


def artifact(signer: FirmwareSigner, data: bytes = IMAGE) -> tuple[Artifact, dict[str, object]]:
    unsigned = Artifact(
        "a1", "t", "smart_plug", "2.0.0", len(data), hashlib.sha256(data).hexdigest(), "", 0, "me"
    )
    signed = unsigned
    signature = signer.sign(manifest(signed))
    instruction: dict[str, object] = {
        "job_id": "c1",
        "version": "2.0.0",
        "url": "https://wattline.example/x",
        "size": len(data),
        "sha256": signed.sha256,
        "manifest": manifest(signed),
        "signature": signature,
    }
    return signed, instruction


def test_the_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    signer = FirmwareSigner.in_directory(tmp_path)
    again = FirmwareSigner.in_directory(tmp_path)
    assert signer.public_key_pem() == again.public_key_pem()
    assert (tmp_path / "signing.key").stat().st_mode & 0o777 == 0o600
    _, instruction = artifact(signer)
    document = instruction["manifest"]
    assert isinstance(document, dict)
    assert verify(signer.public_key_pem(), document, str(instruction["signature"]))
    assert not verify(
        signer.public_key_pem(), {**document, "version": "6.6.6"}, str(instruction["signature"])
    )
    assert not verify(signer.public_key_pem(), document, "bm90IGEgc2lnbmF0dXJl")


def test_the_simulated_device_installs_a_good_image(tmp_path: Path) -> None:
    signer = FirmwareSigner.in_directory(tmp_path)
    _, instruction = artifact(signer)
    outcome = play_update(
        "1.0.0",
        instruction,
        lambda _url: IMAGE,
        fail_install=False,
        public_key_pem=signer.public_key_pem(),
    )
    assert outcome.version == "2.0.0"
    states = [r["state"] for r in outcome.reports]
    assert states == [
        "downloading",
        "downloading",
        "verifying",
        "installing",
        "rebooted",
        "succeeded",
    ]


@pytest.mark.parametrize(
    ("served", "change", "reason"),
    [
        (IMAGE + b"!", {}, "size"),
        (IMAGE[:-1] + b"?", {}, "sha256 mismatch"),
        (IMAGE, {"signature": "AAAA"}, "signature does not verify"),
        (IMAGE, {"version": "9.9.9"}, "does not match its signed manifest"),
    ],
)
def test_the_simulated_device_refuses_what_does_not_check_out(
    tmp_path: Path, served: bytes, change: dict[str, object], reason: str
) -> None:
    signer = FirmwareSigner.in_directory(tmp_path)
    _, instruction = artifact(signer)
    outcome = play_update(
        "1.0.0",
        {**instruction, **change},
        lambda _url: served,
        fail_install=False,
        public_key_pem=signer.public_key_pem(),
    )
    assert outcome.version == "1.0.0"
    assert outcome.reports[-1]["state"] == "failed"
    assert reason in outcome.reports[-1]["detail"]


def test_a_failed_download_is_reported(tmp_path: Path) -> None:
    def refuse(_url: str) -> bytes:
        raise OSError("HTTP Error 403: Forbidden")

    signer = FirmwareSigner.in_directory(tmp_path)
    _, instruction = artifact(signer)
    outcome = play_update("1.0.0", instruction, refuse, fail_install=False, public_key_pem=None)
    assert outcome.reports[-1]["detail"] == "download failed: HTTP Error 403: Forbidden"


@pytest.mark.parametrize(
    ("rate", "failing"),
    [(0.0, []), (0.3, [4, 7, 10]), (0.5, [2, 4, 6, 8, 10]), (1.0, list(range(1, 11)))],
)
def test_failures_are_spread_exactly(rate: float, failing: list[int]) -> None:
    spread = FailureSpread()
    spread.set_rate(rate)
    assert [n for n in range(1, 11) if spread.next_fails()] == failing
