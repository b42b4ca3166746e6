"""Webhook delivery, signed per Standard Webhooks, never to a private address by default.

Headers: ``webhook-id`` (the delivery id: the same on every retry, so the receiver
can drop duplicates), ``webhook-timestamp`` (seconds) and ``webhook-signature``
(``v1,`` + base64 HMAC-SHA256 over ``id.timestamp.body`` with the channel's
secret), as the ``standardwebhooks`` package signs and verifies them.

SSRF: the target's host is resolved and every address must be public (no
loopback, private, link-local, multicast or reserved range) unless an admin
allowed the channel to reach private addresses; redirects are not followed.
The request then connects to an address that was checked, never to a second
lookup of the name: a DNS answer that changes between the check and the
connection (DNS rebinding) cannot steer the request to a private address. The
Host header and the TLS server name stay the URL's host, so certificates are
verified against the name as usual.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
import socket
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpcore
import httpx
from standardwebhooks.webhooks import Webhook

from wattline.model.notifications import Channel, Delivery

SECRET_PREFIX = "whsec_"  # noqa: S105 - the spec's prefix, not a secret
# A receiver slower than this counts as failed and is retried.
TIMEOUT_S = 10.0

Resolver = Callable[[str, int], list[str]]


def new_secret() -> str:
    """A signing secret as Standard Webhooks writes them: "whsec_" + base64 of 32 bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp_s: int, body: str) -> str:
    """The ``webhook-signature`` header value."""
    return Webhook(secret).sign(msg_id, datetime.fromtimestamp(timestamp_s, UTC), body)


def signed_headers(secret: str, msg_id: str, timestamp_s: int, body: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp_s),
        "webhook-signature": sign(secret, msg_id, timestamp_s, body),
    }


def _resolve(host: str, port: int) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port)})


class BlockedTargetError(ValueError):
    """The webhook's target is not allowed (scheme, or a private address)."""


def check_target(url: str, *, allow_private: bool, resolve: Resolver = _resolve) -> list[str]:
    """The addresses of ``url``'s host, each checked to be public; BlockedTargetError
    unless ``url`` is http(s) to public addresses. Empty when private ones are allowed
    (nothing to check, the name is resolved when connecting)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise BlockedTargetError(f"{url!r} is not an http(s) URL")
    if allow_private:
        return []
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolve(parts.hostname, port)
    except OSError as exc:
        raise BlockedTargetError(f"cannot resolve {parts.hostname!r}: {exc}") from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global or ip.is_multicast:
            raise BlockedTargetError(
                f"{parts.hostname!r} resolves to {address}, a non-public address; an admin "
                "must allow private targets for this channel"
            )
    if not addresses:
        raise BlockedTargetError(f"{parts.hostname!r} resolves to no address")
    return addresses


class PinnedBackend(httpcore.NetworkBackend):
    """Opens TCP connections to the address checked for the host, not to a new lookup."""

    def __init__(self, host: str, address: str, tcp: httpcore.NetworkBackend) -> None:
        self._host, self._address, self._tcp = host, address, tcp

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        if host.strip("[]") != self._host:
            raise httpcore.ConnectError(f"{host!r} is not the checked host {self._host!r}")
        return self._tcp.connect_tcp(self._address, port, timeout, local_address, socket_options)

    def connect_unix_socket(
        self,
        path: str,  # noqa: ARG002 - the interface's signature
        timeout: float | None = None,  # noqa: ARG002
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,  # noqa: ARG002
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("webhooks go over TCP")

    def sleep(self, seconds: float) -> None:
        self._tcp.sleep(seconds)


class PinnedTransport(httpx.HTTPTransport):
    """httpx's own transport over a connection pool whose every connection goes to
    one checked address (httpx takes no network backend, so the pool is swapped)."""

    def __init__(self, host: str, address: str, tcp: httpcore.NetworkBackend) -> None:
        super().__init__()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            network_backend=PinnedBackend(host, address, tcp),
        )


class WebhookSender:
    def __init__(
        self,
        client: httpx.Client | None = None,
        *,
        clock_s: Callable[[], float] | None = None,
        resolve: Resolver = _resolve,
        tcp: httpcore.NetworkBackend | None = None,
    ) -> None:
        # for channels an admin allowed to reach private addresses: nothing is pinned
        self._client = client or httpx.Client(timeout=TIMEOUT_S, follow_redirects=False)
        self._clock_s = clock_s or (lambda: datetime.now(UTC).timestamp())
        self._resolve = resolve
        self._tcp = tcp or httpcore.SyncBackend()

    def send(self, channel: Channel, delivery: Delivery) -> tuple[bool, str]:
        try:
            checked = check_target(
                channel.target, allow_private=channel.allow_private, resolve=self._resolve
            )
        except BlockedTargetError as exc:
            return False, f"blocked: {exc}"
        headers = signed_headers(
            channel.secret or "", delivery.delivery_id, int(self._clock_s()), delivery.payload
        )
        body = delivery.payload.encode()
        try:
            if not checked:
                response = self._client.post(channel.target, content=body, headers=headers)
            else:
                # a client per delivery: a pooled connection made for another answer of
                # the name must not carry this request (webhooks are rare; TLS setup is cheap)
                host = urlsplit(channel.target).hostname or ""
                transport = PinnedTransport(host, checked[0], self._tcp)
                with httpx.Client(
                    transport=transport, timeout=TIMEOUT_S, follow_redirects=False
                ) as client:
                    response = client.post(channel.target, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return False, f"{type(exc).__name__}: {exc}"
        return response.is_success, f"HTTP {response.status_code}"

    def close(self) -> None:
        self._client.close()
