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
    producer_linger_ms: int = Field(
        default=5,
        ge=0,
        le=1_000,
        description=(
            "How long the producer waits to fill a batch (Kafka's default since 4.0): one "
            "request per few milliseconds instead of one per message under load."
        ),
    )
    fetch_max_wait_ms: int = Field(
        default=500,
        ge=0,
        le=30_000,
        description=(
            "Longest a consumer fetch waits for data (Kafka's default, 500). Tansu answers an "
            "empty fetch only when this expires, so the embedded stack uses 20."
        ),
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
    gzip: bool = Field(default=False, description="Gzip write bodies (Content-Encoding: gzip).")
    max_backoff_s: float = Field(
        default=30.0, gt=0, description="Cap of the exponential backoff between write retries."
    )
    raw_retention: str = Field(
        default="90d",
        pattern=r"^([1-9][0-9]*[hdw]|INF)$",
        description="How long raw points are kept (InfluxQL duration, at least 1h, or INF).",
    )
    rollup_retention: str = Field(
        default="730d",
        pattern=r"^([1-9][0-9]*[hdw]|INF)$",
        description="How long the 1-minute and 1-hour vitals rollups are kept.",
    )
    rollup_retention_policy: str = Field(
        default="rollups", description="v1: retention policy of the rollups (v2: DBRP mapping)."
    )
    rollup_bucket: str = Field(default="detoxmon_rollups", description="v2: bucket of rollups.")
    heartbeat_interval_s: float = Field(
        default=10.0, gt=0, description="Seconds between pipeline_health points of a worker."
    )
    worker_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$",
        description="The worker tag of pipeline_health points; default hostname-pid.",
    )


class PagerSettings(BaseModel):
    """Where pages go and how hard the pager tries (``docs/paging.md``).

    With ``routing_file`` the routing and rota come from that file; without it, every
    transition goes to each of ``webhook_urls`` (signed with ``webhook_secret``). Each secret
    may instead come from a file (``*_file``, e.g. a mounted Docker or Kubernetes secret).
    """

    model_config = ConfigDict(frozen=True)

    routing_file: Path | None = Field(
        default=None, description="Routing and on-call rota (deploy/routing.yaml)."
    )
    webhook_urls: list[str] = Field(
        default_factory=list, description="Without a routing file: webhooks paged for all."
    )
    webhook_secret: SecretStr | None = None
    pagerduty_events_url: str = Field(
        default="https://events.pagerduty.com/v2/enqueue",
        description="PagerDuty Events API v2 endpoint.",
    )
    pagerduty_webhook_secret: SecretStr | None = Field(
        default=None, description="Signing secret of the PagerDuty v3 webhook subscription."
    )
    pagerduty_webhook_secret_file: Path | None = None
    ack_tokens: list[SecretStr] = Field(
        default_factory=list, description="Bearer tokens of staff apps allowed to acknowledge."
    )
    ack_tokens_file: Path | None = Field(default=None, description="One token per line.")
    smtp_host: str | None = Field(default=None, description="Mail server for the email channel.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="STARTTLS upgrade, implicit TLS, or none (loopback)."
    )
    smtp_ca_file: Path | None = Field(
        default=None, description="CA bundle that signed the mail server's certificate."
    )
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_password_file: Path | None = None
    smtp_from: str = Field(default="detoxmon@localhost", description="Sender address.")
    timeout_s: float = Field(default=5.0, gt=0, description="One HTTP or SMTP attempt, at most.")
    retry_attempts: int = Field(
        default=4, ge=1, description="Attempts per channel and transition before falling back."
    )
    retry_budget_s: float = Field(
        default=60.0, gt=0, description="Time per channel and transition before falling back."
    )
    initial_backoff_s: float = Field(default=0.5, gt=0, description="First retry delay.")
    max_backoff_s: float = Field(default=30.0, gt=0, description="Cap of the retry backoff.")


class IngestSettings(BaseModel):
    """How strictly arrival times are judged, who may send, and where the ingest paths listen.

    Gateways (ids, token hashes or token sources, scopes) come from a YAML file
    (``gateways_file``) or the same document inline (``gateways``, e.g. from a ConfigMap);
    ``deploy/gateways.example.yaml`` shows the format. MLLP has no authentication of its own,
    so its listener binds to loopback unless told otherwise, and every message it receives is
    scoped as coming from ``mllp_gateway``.
    """

    model_config = ConfigDict(frozen=True)

    future_tolerance_s: float = Field(
        default=300.0, ge=0, description="observed_at may be this far ahead of our clock."
    )
    late_after_s: float = Field(
        default=600.0, gt=0, description="Older than this on arrival: accepted, marked late."
    )
    gateways_file: Path | None = Field(
        default=None, description="YAML registry of gateways: ids, token hashes, scopes."
    )
    gateways: str | None = Field(
        default=None, description="The gateway registry inline (YAML or JSON), not a file."
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1,
        description="Largest HTTP body or MLLP message accepted, bytes (HTTP 413 beyond).",
    )
    ack_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="Longest wait for the broker to confirm a message before answering 503.",
    )
    mllp_bind: str = Field(
        default="127.0.0.1",
        description="MLLP listener address: loopback or a private network behind TLS.",
    )
    mllp_port: int = Field(default=0, ge=0, le=65535, description="MLLP port; 0: no listener.")
    mllp_gateway: str | None = Field(
        default=None, description="Gateway whose scope applies to MLLP messages (required)."
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
    rules_file: Path = Field(
        default=Path(__file__).resolve().parents[1] / "deploy" / "rules" / "default.rules.yaml",
        description="Alert rules (YAML); the worker refuses to start if it is invalid.",
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
