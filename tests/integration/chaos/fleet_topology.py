"""The processes of deploy/compose.yml's fleet, for the fleet tests: two `wattline collect`
sharing the stream (an MQTT 5 shared group) and two `wattline serve` API processes, on one
PostgreSQL, Redis and an S3 archive (moto)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import free_port
from tests.integration.archive.conftest import S3Server
from tests.integration.chaos.harness import CollectorProcess
from tests.integration.chaos.servers import MosquittoServer

TOKEN = uuid.uuid4().hex + uuid.uuid4().hex
# moto accepts any credentials; the test and its processes share these
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(frozen=True, slots=True)
class Fleet:
    collectors: list[CollectorProcess]
    apis: list[CollectorProcess]
    api_ports: list[int]

    @property
    def processes(self) -> list[CollectorProcess]:
        return [*self.collectors, *self.apis]


def fleet_processes(
    broker: MosquittoServer,
    database_url: str,
    topic_prefix: str,
    s3_server: S3Server,
    tmp_path: Path,
    *,
    extra_env: dict[str, str] | None = None,
) -> Fleet:
    """Two collectors and two API processes, configured and not started."""
    common = {
        "WATTLINE_MQTT_PROTOCOL": "5",
        "WATTLINE_MQTT_SHARED_GROUP": f"g{topic_prefix}",
        "WATTLINE_ARCHIVE_URL": f"s3://{s3_server.new_bucket()}/raw",
        "WATTLINE_S3_ENDPOINT_URL": s3_server.endpoint_url,
        **FAKE_AWS,
        "WATTLINE_REDIS_URL": "redis://127.0.0.1:6379/0",
        # a channel and keys of this fleet's own: another test's fleet may share the Redis
        "WATTLINE_LIVE_REDIS_CHANNEL": f"wattline:test:{topic_prefix}",
        "WATTLINE_REDIS_RATELIMIT_PREFIX": f"wattline:test:{topic_prefix}:ratelimit:",
        "WATTLINE_ADMIN_TOKEN": TOKEN,
        **(extra_env or {}),
    }

    def process(name: str, command: tuple[str, ...], extra: dict[str, str]) -> CollectorProcess:
        return CollectorProcess(
            mqtt_url=broker.url,
            database_url=database_url,
            data_dir=tmp_path / name,
            topic_prefix=topic_prefix,
            client_id=f"{name}-{topic_prefix}",
            log_path=tmp_path / f"{name}.log",
            extra_env={**common, **extra},
            command=command,
        )

    collectors = [process(f"collector-{i}", ("collect",), {}) for i in (1, 2)]
    api_ports = [free_port(), free_port()]
    apis = [
        process(f"api-{i}", ("serve",), {"WATTLINE_HTTP_PORT": str(port)})
        for i, port in enumerate(api_ports, start=1)
    ]
    return Fleet(collectors, apis, api_ports)
