"""A worker with gateways and an MLLP listener on fresh embedded services, for ingest tests."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from agents.embedded import EmbeddedStack
from agents.embedded.process import free_port, port_open
from agents.embedded.worker import WorkerProcess
from agents.influx.setup import setup_storage
from agents.settings import InfluxSettings
from streams import topics
from streams.admin import ensure_topics
from streams.offsets import end_offsets
from streams.producer import bootstrap_servers

PARTITIONS = 2
#: Small enough that the 413 test sends little, large enough for any test message.
MAX_BODY_BYTES = 64 * 1024
TOKEN_ENV = "DETOXMON_TEST_TELEHEALTH_TOKEN"

T = TypeVar("T")


@dataclass
class IngestWorker:
    """A running worker, its services, the gateways' tokens and the MLLP port."""

    stack: EmbeddedStack
    worker: WorkerProcess
    tokens: dict[str, str]
    mllp_port: int
    env: dict[str, str]

    @property
    def broker_url(self) -> str:
        return self.stack.broker.url

    @property
    def url(self) -> str:
        return self.worker.url

    def auth(self, gateway: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[gateway]}"}


def gateways_document(tokens: Mapping[str, str], token_file: Path) -> dict[str, Any]:
    """Three gateways, one per way of giving a token, with ward and device scopes."""
    return {
        "gateways": [
            {
                "id": "ward3-monitors",
                "token_sha256": hashlib.sha256(tokens["ward3-monitors"].encode()).hexdigest(),
                "wards": ["ward-3"],
            },
            {"id": "telehealth", "token_env": TOKEN_ENV, "devices": ["app-*"]},
            {"id": "mllp-engine", "token_file": token_file.name, "devices": ["bm-*"]},
        ]
    }


@contextmanager
def ingest_worker(root: Path, extra_env: Mapping[str, str] | None = None) -> Iterator[IngestWorker]:
    """Embedded broker and InfluxDB, topics, a gateways file, and a worker using them."""
    stack = EmbeddedStack(root / "services")
    stack.start()
    worker: WorkerProcess | None = None
    try:
        setup_storage(InfluxSettings(url=stack.influx.url))
        asyncio.run(ensure_topics(stack.broker.url, topics.ALL_TOPICS, partitions=PARTITIONS))
        tokens = {
            name: secrets.token_urlsafe(32)
            for name in ("ward3-monitors", "telehealth", "mllp-engine")
        }
        config = root / "config"
        config.mkdir(parents=True, exist_ok=True)
        token_file = config / "mllp.token"
        token_file.write_text(tokens["mllp-engine"] + "\n")
        gateways_file = config / "gateways.yaml"
        gateways_file.write_text(json.dumps(gateways_document(tokens, token_file)))
        mllp_port = free_port()
        env = {
            **stack.env(),
            "DETOXMON_KAFKA__TOPIC_PARTITIONS": str(PARTITIONS),
            "DETOXMON_KAFKA__SESSION_TIMEOUT_S": "6",
            "DETOXMON_INGEST__GATEWAYS_FILE": str(gateways_file),
            "DETOXMON_INGEST__MAX_BODY_BYTES": str(MAX_BODY_BYTES),
            "DETOXMON_INGEST__MLLP_PORT": str(mllp_port),
            "DETOXMON_INGEST__MLLP_GATEWAY": "mllp-engine",
            TOKEN_ENV: tokens["telehealth"],
            **(extra_env or {}),
        }
        worker = WorkerProcess(root / "worker", env)
        worker.start()
        worker.process.wait_healthy(lambda: port_open(mllp_port), timeout_s=30)
        yield IngestWorker(stack=stack, worker=worker, tokens=tokens, mllp_port=mllp_port, env=env)
    finally:
        if worker is not None:
            worker.stop()
        stack.stop()


def vital_signs(
    patient_id: str = "pt-ingest01",
    *,
    ward: str | None = "ward-3",
    device_id: str = "bm-ward3-01",
    observed_at: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A valid vital-signs event (fresh event id), observed a minute ago unless told."""
    event: dict[str, Any] = {
        "kind": "vital_signs",
        "event_id": str(uuid.uuid4()),
        "patient_id": patient_id,
        "device_id": device_id,
        "source": "bedside_monitor",
        "observed_at": (observed_at or datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "heart_rate": 92,
        "systolic_bp": 128,
        "diastolic_bp": 82,
        **extra,
    }
    if ward is not None:
        event["ward"] = ward
    return event


def poll(probe: Callable[[], T], done: Callable[[T], bool], timeout_s: float = 60.0) -> T:
    """Call ``probe`` until ``done(result)``; fail with the last result after ``timeout_s``.

    The synchronous twin of :func:`tests.support.waiting.eventually`, for probes that run
    their own event loop.
    """
    deadline = time.monotonic() + timeout_s
    result = probe()
    while not done(result):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met after {timeout_s:.0f} s; last: {result!r}")
        time.sleep(0.3)
        result = probe()
    return result


async def read_all(broker_url: str, topic: str) -> list[ConsumerRecord]:
    """Every record of ``topic`` up to its end offsets *now*: what the broker has acknowledged.

    No polling, so a record found here was on the broker when the call began.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers(broker_url), group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer.topics()
        assigned = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(assigned)
        starts = await consumer.beginning_offsets(assigned)
        ends = await end_offsets(consumer, assigned)
        for tp in assigned:  # seek_to_beginning() after end_offsets() sometimes lands at the end
            consumer.seek(tp, starts[tp])
        records: list[ConsumerRecord] = []
        for tp in assigned:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                records.extend(r for r in batch.get(tp, []) if r.offset < ends[tp])
        return records
    finally:
        await consumer.stop()


def headers_of(record: ConsumerRecord) -> dict[str, str]:
    """A record's headers as text."""
    return {name: value.decode() for name, value in record.headers or ()}
