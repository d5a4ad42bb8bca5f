"""The Faust application: broker connection, topics and tables, configured from settings.

The web server binds to loopback and Faust's built-in views that list tables, routing,
graphs and statistics are switched off: tables hold patient state, and those views would show
it to anyone who can reach the port.
"""

from __future__ import annotations

import ssl
from typing import Any

import faust

from agents.faust_fixes import install as install_no_loss_consumer
from agents.kafka_consumer import use_fetch_wait
from agents.settings import KafkaSettings, Settings, get_settings
from streams import topics


def broker_credentials(kafka: KafkaSettings) -> faust.types.auth.CredentialsT | None:
    """Faust credentials for the configured security protocol (none for PLAINTEXT)."""
    if kafka.security_protocol == "PLAINTEXT":
        return None
    context = ssl.create_default_context(cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None)
    if kafka.security_protocol == "SSL":
        return faust.SSLCredentials(context)
    password = kafka.sasl_password.get_secret_value() if kafka.sasl_password else None
    return faust.SASLCredentials(
        username=kafka.sasl_username,
        password=password,
        mechanism=kafka.sasl_mechanism,
        ssl_context=context if kafka.security_protocol == "SASL_SSL" else None,
    )


def create_app(settings: Settings) -> faust.App:
    """Build the Faust app for ``settings``."""
    app = faust.App(
        settings.app_id,
        broker=settings.kafka.broker_url,
        broker_credentials=broker_credentials(settings.kafka),
        broker_session_timeout=settings.kafka.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.kafka.session_timeout_s / 3),
        store="memory://",
        datadir=str(settings.data_dir),
        topic_partitions=settings.kafka.topic_partitions,
        topic_replication_factor=settings.kafka.replication_factor,
        consumer_auto_offset_reset="earliest",
        # Every agent is idempotent (deterministic ids, dedup tables, points keyed by event
        # time), so a stop or rebalance need not wait for an event in progress: it is
        # reprocessed. Waiting made a stop during an InfluxDB outage hang until SIGKILL.
        stream_wait_empty=False,
        producer_acks=-1,
        producer_linger=settings.kafka.producer_linger_ms / 1000,
        web_bind=settings.web.bind,
        web_host=settings.web.bind,
        web_port=settings.web.port,
        web_router_enabled=False,
        web_tables_enabled=False,
        web_graph_enabled=False,
        web_stats_enabled=False,
        web_metrics_enabled=False,
        autodiscover=False,
    )
    # The consumer with a settable fetch wait, then (the transport being final) the one that
    # never loses an event in a rebalance or recovery.
    use_fetch_wait(app, settings.kafka.fetch_max_wait_ms)
    install_no_loss_consumer(app)
    return app


settings = get_settings()
app = create_app(settings)


def _raw_topic(name: str, **kwargs: Any) -> faust.TopicT:
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        value_serializer="raw",
        key_serializer="raw",
        **kwargs,
    )


readings_topic = _raw_topic(topics.READINGS)
observations_topic = _raw_topic(topics.OBSERVATIONS)
alerts_topic = _raw_topic(topics.ALERTS)
dead_letter_topic = _raw_topic(topics.DEAD_LETTER)
