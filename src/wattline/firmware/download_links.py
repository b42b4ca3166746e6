"""Short-lived download links: one artifact, one device, until a deadline.

A link is ``{base_url}/api/v1/firmware/download/{artifact_id}?device=...&expires=...&sig=...``
with ``sig`` an HMAC-SHA256 over the three values. The server answers only with
the artifact named in the path, found by id in its own store, so no link can be
bent to serve another object or point anywhere else; and ``base_url`` is the
server's configured address, never the request's Host header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import urlencode

# Long enough to start a download on a slow link after the instruction arrives,
# short enough that a leaked link is soon worthless. Each send makes a new one.
DEFAULT_TTL_MS = 15 * 60 * 1000
DOWNLOAD_PATH = "/api/v1/firmware/download/"


class LinkRefusedError(ValueError):
    """The link is forged, altered, for another artifact or device, or expired."""


@dataclass(frozen=True, slots=True)
class DownloadLinks:
    secret: bytes
    base_url: str
    ttl_ms: int = DEFAULT_TTL_MS

    def __post_init__(self) -> None:
        if len(self.secret) < 32:
            raise ValueError("the download link secret needs at least 32 bytes")

    def url(self, artifact_id: str, device_id: str, now_ms: int) -> str:
        expires_ms = now_ms + self.ttl_ms
        query = urlencode(
            {
                "device": device_id,
                "expires": expires_ms,
                "sig": self._sign(artifact_id, device_id, expires_ms),
            }
        )
        return f"{self.base_url.rstrip('/')}{DOWNLOAD_PATH}{artifact_id}?{query}"

    def check(
        self, artifact_id: str, device_id: str, expires_ms: int, sig: str, now_ms: int
    ) -> None:
        """Return when the link is genuine and current; LinkRefusedError otherwise."""
        expected = self._sign(artifact_id, device_id, expires_ms)
        if not hmac.compare_digest(expected.encode("ascii"), sig.encode("utf-8", "replace")):
            raise LinkRefusedError("the download link's signature does not match")
        if now_ms >= expires_ms:
            raise LinkRefusedError("the download link has expired; ask for a new one")

    def _sign(self, artifact_id: str, device_id: str, expires_ms: int) -> str:
        # NUL separates the parts: ids are printable, so no two triples share a message.
        message = f"{artifact_id}\0{device_id}\0{expires_ms}".encode()
        digest = hmac.new(self.secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
