"""Fixtures that start the real embedded services; every process stops even if a test fails."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agents.embedded import EmbeddedStack
from agents.embedded.worker import WorkerProcess
from agents.influx.setup import setup_storage
from agents.settings import InfluxSettings
from streams import topics
from streams.admin import ensure_topics
from tests.support.recording_server import RecordingServer, recording_server

PARTITIONS = 4


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    """A fresh Tansu broker and InfluxDB for one test module."""
    services = EmbeddedStack(tmp_path_factory.mktemp("services"))
    services.start()
    try:
        setup_storage(InfluxSettings(url=services.influx.url))
        asyncio.run(ensure_topics(services.broker.url, topics.ALL_TOPICS, partitions=PARTITIONS))
        yield services
    finally:
        services.stop()


@dataclass
class Pipeline:
    """A running worker wired to the embedded services and a recording pager endpoint."""

    stack: EmbeddedStack
    worker: WorkerProcess
    pager: RecordingServer
    webhook_secret: str

    @property
    def broker_url(self) -> str:
        return self.stack.broker.url

    @property
    def influx(self) -> InfluxSettings:
        return InfluxSettings(url=self.stack.influx.url)


@pytest.fixture(scope="module")
def pipeline(stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """``detoxmon worker`` in a child process, paging a recording webhook server."""
    secret = secrets.token_hex(16)
    with recording_server() as pager:
        env = {
            **stack.env(),
            "DETOXMON_PAGER__WEBHOOK_URLS": json.dumps([pager.url]),
            "DETOXMON_PAGER__WEBHOOK_SECRET": secret,
            "DETOXMON_PAGER__MAX_BACKOFF_S": "2",
            "DETOXMON_KAFKA__TOPIC_PARTITIONS": str(PARTITIONS),
            "DETOXMON_KAFKA__SESSION_TIMEOUT_S": "6",
            "DETOXMON_INFLUX__FLUSH_INTERVAL_S": "0.2",
        }
        worker = WorkerProcess(Path(tmp_path_factory.mktemp("worker")), env)
        worker.start()
        try:
            yield Pipeline(stack=stack, worker=worker, pager=pager, webhook_secret=secret)
        finally:
            worker.stop()
