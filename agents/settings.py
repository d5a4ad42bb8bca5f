"""Runtime settings: one pydantic-settings model, read from ``DETOXMON_*`` variables.

Nested groups use ``__``: ``DETOXMON_KAFKA__BROKER_URL``, ``DETOXMON_INFLUX__URL``.
Secrets are ``SecretStr`` (never printed) and may come from files in ``secrets_dir``
(``DETOXMON_SECRETS_DIR``, one file per variable name, as Docker and Kubernetes mount them).
Defaults point at the embedded services on their conventional loopback ports.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseModel):
    """Broker connection. Only these change between Tansu, Apache Kafka, Redpanda and MSK."""

    model_config = ConfigDict(frozen=True)

    broker_url: str = Field(
        default="kafka://127.0.0.1:9092",
        description="Bootstrap servers, 'kafka://host:port[;kafka://host2:port]'.",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = Field(default=None, description="CA bundle for SSL/SASL_SSL.")
    topic_partitions: int = Field(default=4, ge=1, description="Partitions of created topics.")
    replication_factor: int = Field(default=1, ge=1)
    session_timeout_s: float = Field(
        default=30.0, gt=0, description="Consumer-group session timeout; tests use a short one."
    )


class InfluxSettings(BaseModel):
    """InfluxDB: v1 (``/write``, database + retention policy) or v2 (token, org, bucket)."""

    model_config = ConfigDict(frozen=True)

    url: str = "http://127.0.0.1:8086"
    api_version: int = Field(
        default=1, ge=1, le=2, description="1: /write + InfluxQL; 2: /api/v2/write."
    )
    database: str = "detoxmon"
    retention_policy: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    org: str = "detoxmon"
    bucket: str = "detoxmon"
    timeout_s: float = Field(default=10.0, gt=0)
    batch_size: int = Field(default=1000, ge=1, description="Points per write, at most.")
    flush_interval_s: float = Field(default=0.5, gt=0, description="Longest wait to fill a batch.")


class PagerSettings(BaseModel):
    """Where pages go. Webhook receivers verify ``X-Detoxmon-Signature`` with the secret."""

    model_config = ConfigDict(frozen=True)

    webhook_urls: list[str] = Field(default_factory=list)
    webhook_secret: SecretStr | None = None
    timeout_s: float = Field(default=5.0, gt=0)
    max_backoff_s: float = Field(default=30.0, gt=0, description="Cap of the retry backoff.")


class IngestSettings(BaseModel):
    """How strictly arrival times are judged."""

    model_config = ConfigDict(frozen=True)

    future_tolerance_s: float = Field(
        default=300.0, ge=0, description="observed_at may be this far ahead of our clock."
    )
    late_after_s: float = Field(
        default=600.0, gt=0, description="Older than this on arrival: accepted, marked late."
    )


class WebSettings(BaseModel):
    """The worker's HTTP server. Loopback unless deliberately exposed behind a proxy."""

    model_config = ConfigDict(frozen=True)

    bind: str = "127.0.0.1"
    port: int = Field(default=6066, ge=0, le=65535)


class Settings(BaseSettings):
    """Everything a detoxmon process needs to know about its surroundings."""

    model_config = SettingsConfigDict(
        env_prefix="DETOXMON_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        secrets_dir=os.environ.get("DETOXMON_SECRETS_DIR"),
        extra="ignore",
        frozen=True,
    )

    app_id: str = Field(default="detoxmon", description="Consumer group and topic-name prefix.")
    data_dir: Path = Field(default=Path(".detoxmon-data"), description="Worker state directory.")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    influx: InfluxSettings = Field(default_factory=InfluxSettings)
    pager: PagerSettings = Field(default_factory=PagerSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
