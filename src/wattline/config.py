"""Settings: ``WATTLINE_*`` environment variables, overridden by command-line flags."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WATTLINE_", extra="ignore", env_ignore_empty=True)

    data_dir: Path = Path("wattline-data")
    host: str = "127.0.0.1"
    http_port: int = Field(8000, ge=0, le=65535)
    mqtt_port: int = Field(1883, ge=0, le=65535)
    # An external broker (mqtt://host:port) replaces the embedded one.
    mqtt_url: str | None = None
    # The collector's persistent session is keyed by this id; two collectors
    # sharing one id would steal each other's session.
    mqtt_client_id: str = "wattline-collector"
    topic_prefix: str = "iot"
    # "3.1.1" or "5"; unset: 5 for an external broker, 3.1.1 for the embedded one
    mqtt_protocol: Literal["3.1.1", "5"] | None = None
    # collectors sharing this group split the stream (MQTT 5 shared subscriptions)
    mqtt_shared_group: str | None = None
    mqtt_session_expiry_s: int = Field(7 * 86_400, ge=0)
    mqtt_receive_maximum: int = Field(2000, ge=1, le=65_535)
    # postgresql://user@host/db; unset means SQLite in the data dir
    database_url: str | None = None
    # s3://bucket/prefix; unset means a folder in the data dir
    archive_url: str | None = None
    admin_token: SecretStr | None = None
    auto_register: bool = False
    demo: bool = False
    sim_devices: int = Field(6, ge=0, le=10_000)
    sim_interval_s: float = Field(2.0, gt=0)
    sim_seed: int = 1
    max_payload_bytes: int = Field(64 * 1024, gt=0)
    max_future_skew_s: float = Field(300.0, ge=0)
    # A device that reported "online" but has been silent this long is shown offline.
    offline_after_s: float = Field(120.0, gt=0)
    log_level: str = "INFO"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "wattline.db"

    @property
    def archive_dir(self) -> Path:
        return self.data_dir / "archive"

    @property
    def embedded_broker(self) -> bool:
        return self.mqtt_url is None

    @property
    def effective_mqtt_url(self) -> str:
        return self.mqtt_url or f"mqtt://{self.host}:{self.mqtt_port}"
