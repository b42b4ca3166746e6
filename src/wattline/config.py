"""Settings: ``WATTLINE_*`` environment variables, overridden by command-line flags."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from wattline.protocols.adapters import ADAPTERS

JWT_SECRET_MIN_BYTES = 32


# WATTLINE_EVENT_LOOP's values (runtime/event_loop.py)
EventLoopChoice = Literal["auto", "uvloop", "asyncio"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WATTLINE_", extra="ignore", env_ignore_empty=True)

    data_dir: Path = Path("wattline-data")
    host: str = "127.0.0.1"
    http_port: int = Field(8000, ge=0, le=65535)
    mqtt_port: int = Field(1883, ge=0, le=65535)
    # Security mode with a CA in the data dir (`wattline ca init`): the embedded
    # Mosquitto's mutual-TLS listener, where devices log in with certificates.
    mqtt_tls_port: int = Field(8883, ge=0, le=65535)
    # Prometheus metrics of `wattline collect`, which has no API to serve them from
    # (`wattline up` serves them at /metrics); None: not served.
    metrics_port: int | None = Field(None, ge=1, le=65535)
    # An external broker (mqtt://host:port) replaces the embedded one.
    mqtt_url: str | None = None
    # The embedded broker: Mosquitto as a child process when installed (auto),
    # else amqtt in this process. amqtt caps ingest at a few thousand readings/s.
    broker: Literal["auto", "mosquitto", "amqtt"] = "auto"
    # The collector's persistent session is keyed by this id; two collectors
    # sharing one id would steal each other's session.
    mqtt_client_id: str = "wattline-collector"
    topic_prefix: str = "iot"
    # Device wire formats the collector accepts (docs/protocols.md), tried in
    # this order: a JSON list or comma-separated, WATTLINE_ADAPTERS=canonical,tasmota.
    # Default: every known format (their topics do not overlap; docs/compatibility.md);
    # WATTLINE_ADAPTERS_OFF turns single ones off.
    adapters: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(ADAPTERS))
    smartplug_topic_prefix: str = "smartplug"
    smartsolar_topic_prefix: str = "devices"
    hypervolt_topic_prefix: str = "HyperVolt/sensors"
    tasmota_topic_prefix: str = "tele"
    shelly_gen1_topic_prefix: str = "shellies"
    # Gen2 topics start with each device's own prefix; this adds an optional parent level.
    shelly_gen2_topic_prefix: str = ""
    # "3.1.1" or "5"; unset: 5 for an external broker, 3.1.1 for the embedded one
    mqtt_protocol: Literal["3.1.1", "5"] | None = None
    # collectors sharing this group split the stream (MQTT 5 shared subscriptions)
    mqtt_shared_group: str | None = None
    mqtt_session_expiry_s: int = Field(7 * 86_400, ge=0)
    # MQTT 5 Receive Maximum: several batches' worth, so the next batch arrives
    # while one commits (acknowledge-after-commit holds each until then).
    mqtt_receive_maximum: int = Field(10_000, ge=1, le=65_535)
    # postgresql://user@host/db; unset means SQLite in the data dir
    database_url: str | None = None
    # SQLite's fsync per commit: "full" (default) makes every acknowledged reading
    # survive a power cut; "normal" (WAL) survives a process crash only, and a
    # power cut may lose the last commits the broker was told were stored.
    # Lower commit latency for a weaker promise (docs/operations.md).
    sqlite_synchronous: Literal["full", "normal"] = "full"
    # The collector's commits in a child process with a GIL of its own, away from
    # the MQTT reader, the planner and the API (ADR 0025), at about 75 MB more
    # memory; false: in a thread. Unset: on for `wattline up` (one process with the
    # API), off for `wattline collect`.
    commit_process: bool | None = None
    # The collector commits readings to a small staging table and folds them into
    # samples, rollups and latest values between commits (ADR 0033): a commit no
    # longer grows with the series it touches, so the live stream's latency
    # stays low; queries see a reading once folded, normally within milliseconds.
    ingest_staging: bool = True
    # WebSocket permessage-deflate: smaller frames for a dashboard over a slow link,
    # at two zlib calls per frame on the server's event loop, each of which lets
    # the process's other threads (the collector's, in `wattline up`) take the
    # GIL: off by default, a frame per message's p99 fell by over a third (docs/live.md)
    ws_compression: bool = False
    # The event loop of `up`, `serve` and `collect`: "auto" runs uvloop where it is
    # installed (uvicorn[standard] brings it on Linux and macOS), else asyncio's.
    # On uvloop the live stream's p99 at 10,000 readings/s fell by a sixth
    # (docs/live.md); "asyncio" keeps the standard loop, for debugging.
    event_loop: EventLoopChoice = "auto"
    # s3://bucket/prefix; unset means a folder in the data dir
    archive_url: str | None = None
    # For S3-compatible stores other than AWS (MinIO: http://host:9000);
    # credentials and region come from the usual AWS_* variables and profiles.
    s3_endpoint_url: str | None = None
    admin_token: SecretStr | None = None
    # on: devices connect with their own credentials and may publish only to their
    # own topics (Mosquitto's dynamic-security plugin); anonymous access is off.
    security: Literal["off", "on"] = "off"
    # With an external broker in security mode: the plugin's admin account,
    # mqtt://user:password@host:port, through which Wattline manages devices.
    dynsec_url: str | None = None
    # The admin token read from a file (a Docker or Kubernetes secret) instead.
    admin_token_file: Path | None = None
    # The key access tokens are signed with (HS256, at least 32 bytes); unset: a
    # random key generated into DATA_DIR/jwt-secret on first start.
    jwt_secret: SecretStr | None = None
    # Anyone may create an account (and a tenant of their own); off: accounts come
    # from an admin or an invitation.
    open_signup: bool = False
    auto_register: bool = False
    demo: bool = False
    sim_devices: int = Field(6, ge=0, le=10_000)
    sim_interval_s: float = Field(2.0, gt=0)
    sim_seed: int = 1
    max_payload_bytes: int = Field(64 * 1024, gt=0)
    max_future_skew_s: float = Field(300.0, ge=0)
    # A device that reported "online" but has been silent this long is shown offline.
    offline_after_s: float = Field(120.0, gt=0)
    # Retention per tier, in days (storage/retention.py); checked every retention_interval_s.
    retention_raw_days: float = Field(7, gt=0)
    retention_1m_days: float = Field(30, gt=0)
    retention_1h_days: float = Field(365, gt=0)
    retention_1d_days: float = Field(5 * 365, gt=0)
    # Raw archive segments, in days; unset keeps them forever: the archive is
    # what the store is rebuilt from (docs/operations.md, "Raw archive").
    archive_retention_days: float | None = Field(None, gt=0)
    # The retention job also compacts closed hours' small archive segments;
    # collectors sharing a bucket may all do it (it is idempotent), or set
    # this false on all but one to save the repeated listings.
    archive_compact: bool = True
    retention_interval_s: float = Field(3600.0, gt=0)
    # Days after which a closed UTC day of raw samples and 1-minute rollups is packed
    # into one compressed block per series (storage/compaction.py, ADR 0018); it runs
    # after each retention run. At least one day: only days already over are packed.
    compact_after_days: float = Field(2.0, ge=1)
    # Readings kept in memory per device and metric for /telemetry/window.
    window_size: int = Field(60, ge=1, le=10_000)
    # HTTP ingest (POST /api/v1/telemetry): requests per second per client, and burst
    http_ingest_rate_per_s: float = Field(10.0, gt=0)
    http_ingest_burst: int = Field(20, ge=1)
    # Every /api/v1 request: per client address before authentication, per user or
    # API key after it. Generous for a dashboard polling a few hundred devices.
    api_address_rate_per_s: float = Field(100.0, gt=0)
    api_address_burst: int = Field(400, ge=1)
    api_principal_rate_per_s: float = Field(50.0, gt=0)
    api_principal_burst: int = Field(200, ge=1)
    # redis://host:6379/0: rate limits shared by every API process; unset: per process
    redis_url: str | None = None
    # The start of the rate limiters' keys in Redis: processes of one deployment share
    # it; two deployments sharing a Redis each need their own, or a user or address
    # known to both would draw on one allowance.
    redis_ratelimit_prefix: str = Field("wattline:ratelimit:", min_length=1, max_length=200)
    # Origins a browser may call the API from (comma-separated); unset: CORS off
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_level: str = "INFO"
    # Carbon intensity and weather fetched into the store every this many seconds
    # (grid/fetcher.py, one process at a time); 0: never, the offline fallback only.
    grid_fetch_interval_s: float = Field(0.0, ge=0)
    # Electricity Maps' auth-token, for zones other than GB; unset: those zones use the fallback
    electricity_maps_token: str | None = None
    # Adapters switched off from the list above: WATTLINE_ADAPTERS_OFF=tasmota,shelly_gen2
    adapters_off: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Smart-solar devices that post without a token (POST /compat/smartsolar/telemetry):
    # their items are quarantined as unknown_device for an admin to claim, 100 requests
    # an hour per address. Off: such requests answer 501 (docs/compatibility.md).
    tokenless_ingest: bool = False
    # OpenTelemetry traces, sent by OTLP over HTTP (http://collector:4318); unset:
    # tracing off, nothing made and nothing exported.
    otlp_endpoint: str | None = None
    # The fraction of ingested messages traced from receive to acknowledgement (every
    # API request is traced). A traced message is six spans, several times the CPU
    # the collector spends on a reading (docs/benchmarks.md, tracing): 1 in 1,000
    # costs under a percent and still traces 20 messages a second at 20,000/s.
    trace_message_ratio: float = Field(0.001, ge=0, le=1)
    # Relay safety (docs/commands.md): the least time a relay stays on / off, and the
    # most switches an hour; queued relay commands after a restart go out over this spread
    relay_min_on_s: float = Field(10.0, ge=0)
    relay_min_off_s: float = Field(10.0, ge=0)
    relay_max_switches_per_hour: int = Field(60, ge=1)
    command_release_spread_s: float = Field(30.0, ge=0)
    # The Redis pub/sub channel of the live stream (with WATTLINE_REDIS_URL): processes
    # of one deployment share it; two deployments sharing a Redis each need their own.
    live_redis_channel: str = Field("wattline:live:events", min_length=1, max_length=200)
    # Alert evaluation and notifications in this process (`up`, `collect`): one
    # process leads them at a time (a database lease); off: none here
    alerts: bool = True
    alert_tick_s: float = Field(5.0, gt=0)
    # the SMTP server alert emails go through; unset: email channels fail (recorded)
    smtp_host: str | None = None
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_from: str = "wattline@localhost"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    # The address devices reach the API at (https://wattline.example): firmware
    # download links start with it; unset: http://{host}:{http_port}
    public_url: str | None = None
    # The largest firmware image an upload may carry
    firmware_max_bytes: int = Field(16 * 1024 * 1024, ge=1, le=64 * 1024 * 1024)

    @property
    def database_path(self) -> Path:
        return self.data_dir / "wattline.db"

    @property
    def archive_dir(self) -> Path:
        return self.data_dir / "archive"

    @property
    def archive_spool_dir(self) -> Path:
        """Where S3 archive segments wait, durable, until they are uploaded."""
        return self.data_dir / "archive-spool"

    @property
    def embedded_broker(self) -> bool:
        return self.mqtt_url is None

    @property
    def effective_mqtt_url(self) -> str:
        return self.mqtt_url or f"mqtt://{self.host}:{self.mqtt_port}"

    @property
    def adapter_prefixes(self) -> dict[str, str]:
        """Each adapter's configured topic prefix, by adapter name."""
        return {
            "canonical": self.topic_prefix,
            "smartplug": self.smartplug_topic_prefix,
            "smartsolar": self.smartsolar_topic_prefix,
            "hypervolt": self.hypervolt_topic_prefix,
            "tasmota": self.tasmota_topic_prefix,
            "shelly_gen1": self.shelly_gen1_topic_prefix,
            "shelly_gen2": self.shelly_gen2_topic_prefix,
        }

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @property
    def enabled_adapters(self) -> list[str]:
        """The adapters the collector runs: ``adapters`` without ``adapters_off``."""
        return [name for name in self.adapters if name not in self.adapters_off]

    @field_validator("adapters", "adapters_off", mode="before")
    @classmethod
    def _split_adapters(cls, value: Any) -> Any:
        # pydantic-settings only parses JSON lists; a comma list is easier to type.
        if isinstance(value, str) and not value.lstrip().startswith("["):
            return [name.strip() for name in value.split(",") if name.strip()]
        if isinstance(value, str):
            return json.loads(value)
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # HS256 with a key shorter than its 32-byte output is weaker than it looks
        # (RFC 7518 section 3.2), and a short secret is often a placeholder.
        if value is not None and len(value.get_secret_value().encode()) < JWT_SECRET_MIN_BYTES:
            raise ValueError(f"WATTLINE_JWT_SECRET needs at least {JWT_SECRET_MIN_BYTES} bytes")
        return value

    @model_validator(mode="after")
    def _check_adapters(self) -> Settings:
        # Names and prefixes are checked where the adapters are built (runtime/ingest.py).
        unknown = [name for name in self.adapters_off if name not in ADAPTERS]
        if unknown:
            raise ValueError(
                f"adapters_off names unknown adapters {unknown}; known: {list(ADAPTERS)}"
            )
        if not self.enabled_adapters:
            raise ValueError("adapters must name at least one protocol adapter")
        return self


# A secret shorter than this is refused outside demo mode: 32 characters of
# secrets.token_urlsafe carry 192 bits, far beyond guessing over the network.
MIN_SECRET_CHARS = 32
# Words of sample configurations and tutorials: a secret containing one was typed, not generated.
_PLACEHOLDERS = ("changeme", "change-me", "change_me", "placeholder", "password", "secret", "admin")


def weak_secret(name: str, value: str) -> str | None:
    """Why ``value`` may not serve as the secret ``name`` outside demo mode; None if it may."""
    lowered = value.lower()
    word = next((w for w in _PLACEHOLDERS if w in lowered), None)
    if word is not None:
        return f"{name} contains the placeholder {word!r}: generate one (openssl rand -hex 32)"
    if len(value) < MIN_SECRET_CHARS:
        return (
            f"{name} is {len(value)} characters; at least {MIN_SECRET_CHARS} are needed"
            " (openssl rand -hex 32)"
        )
    return None
