"""Shared test helpers: free ports and reachability of real servers."""

from __future__ import annotations

import os
import socket

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def unavailable(reason: str) -> None:
    """Skip locally, fail in CI: CI must never pass by skipping a real-server test."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"required server unavailable in CI: {reason}")
    pytest.skip(reason)
