"""Wattline's firmware signing key (Ed25519) and the manifest it signs.

The key lives in ``DATA_DIR/firmware/signing.key`` (0600, made on first use);
devices get the public key at provisioning (``GET /api/v1/firmware/signing-key``)
and refuse an image whose manifest signature does not verify, so an image a
device installs is one Wattline accepted, whatever served the bytes.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from wattline.model.firmware import Artifact

KEY_FILE = "signing.key"


def manifest(artifact: Artifact) -> dict[str, object]:
    """What is signed: everything a device checks before installing."""
    return {
        "artifact_id": artifact.artifact_id,
        "device_type": artifact.device_type,
        "version": artifact.version,
        "size": artifact.size_bytes,
        "sha256": artifact.sha256,
    }


def manifest_bytes(document: dict[str, object]) -> bytes:
    """The one encoding that is signed and verified: JSON with sorted keys."""
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


class FirmwareSigner:
    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key

    @classmethod
    def in_directory(cls, directory: Path) -> FirmwareSigner:
        """The key of ``directory``, made (0600) when there is none yet."""
        path = directory / KEY_FILE
        if not path.exists():
            directory.mkdir(parents=True, exist_ok=True)
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as file:
                file.write(pem)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise TypeError(f"{path} does not hold an Ed25519 key")
        return cls(key)

    def sign(self, document: dict[str, object]) -> str:
        return base64.b64encode(self._key.sign(manifest_bytes(document))).decode("ascii")

    def public_key_pem(self) -> str:
        return (
            self._key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )


def verify(public_key_pem: str, document: dict[str, object], signature: str) -> bool:
    """What a device does: True when ``signature`` is Wattline's over ``document``."""
    key = serialization.load_pem_public_key(public_key_pem.encode("ascii"))
    if not isinstance(key, Ed25519PublicKey):
        return False
    try:
        key.verify(base64.b64decode(signature, validate=True), manifest_bytes(document))
    except (InvalidSignature, ValueError):
        return False
    return True
