"""What a process is: version, build, Python and the backends it is configured with.

``wattline version`` prints it; every process exports it as ``wattline_build_info``
(value 1, the facts as labels), so a dashboard shows which build runs where, and
a rolling upgrade can be watched instance by instance.
"""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Info

import wattline
from wattline.build import build_commit
from wattline.config import Settings
from wattline.runtime.backends import describe_store
from wattline.storage.postgres import redact


@dataclass(frozen=True, slots=True)
class BuildInfo:
    version: str
    commit: str
    python: str
    database: str  # sqlite or postgresql
    archive: str  # folder or s3
    broker: str  # embedded or external
    rate_limits: str  # memory (per process) or redis (shared)
    tracing: str  # off or otlp


def build_info(settings: Settings) -> BuildInfo:
    return BuildInfo(
        version=wattline.__version__,
        commit=build_commit(),
        python=f"{platform.python_version()} ({platform.python_implementation()})",
        database="sqlite" if settings.database_url is None else "postgresql",
        archive="folder" if settings.archive_url is None else "s3",
        broker="embedded" if settings.embedded_broker else "external",
        rate_limits="memory" if settings.redis_url is None else "redis",
        tracing="off" if settings.otlp_endpoint is None else "otlp",
    )


def describe(settings: Settings) -> list[tuple[str, str]]:
    """``wattline version``'s lines: each fact, with where it points (no secrets)."""
    info = build_info(settings)
    broker = (
        f"embedded ({settings.broker})"
        if settings.embedded_broker
        else f"external ({_host(settings.effective_mqtt_url)})"
    )
    tracing = redact(settings.otlp_endpoint or "")
    archive = (
        f"folder ({settings.archive_dir})"
        if settings.archive_url is None
        else f"s3 ({settings.archive_url})"
    )
    return [
        ("version", info.version),
        ("build", info.commit),
        ("python", info.python),
        ("database", f"{info.database} ({describe_store(settings)})"),
        ("archive", archive),
        ("broker", broker),
        ("rate limits", "memory (per process)" if settings.redis_url is None else "redis"),
        ("tracing", "off" if settings.otlp_endpoint is None else f"otlp ({tracing})"),
    ]


def register_build_info(registry: CollectorRegistry, settings: Settings, role: str) -> None:
    """``role``: up, serve or collect. `serve` talks to no broker, whatever is configured."""
    labels = asdict(build_info(settings)) | {"role": role}
    if role == "serve":
        labels["broker"] = "none"
    Info(
        "wattline_build",
        "Version, build commit, Python, role and configured backends of this process (value 1)",
        registry=registry,
    ).info(labels)


def _host(url: str) -> str:
    # The login is left out: a broker URL may carry the collector's password.
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
