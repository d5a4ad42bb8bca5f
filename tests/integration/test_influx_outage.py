"""InfluxDB goes away while readings keep arriving: nothing is lost, nothing is doubled.

A worker runs on this module's own broker and InfluxDB (the `stack` fixture is per module). A
gateway task publishes a reading every 150 ms throughout; InfluxDB is stopped for 30 seconds and
started again on the same port and data directory. Afterwards every reading is stored exactly
once at its event time, the worker is still the same process, and its log shows the retries.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from agents.embedded import EmbeddedStack
from agents.embedded.worker import WorkerProcess
from agents.influx.setup import query_v1
from agents.settings import InfluxSettings
from streams import topics
from streams.producer import bootstrap_servers
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

OUTAGE_S = 30.0
PUBLISH_EVERY_S = 0.15
WORKER_ID = "outage-worker"
RETRY_LINE = re.compile(r"InfluxDB write failed \(attempt (\d+)\), retrying in")


def worker_env(stack: EmbeddedStack) -> dict[str, str]:
    return {
        **stack.env(),
        "DETOXMON_KAFKA__TOPIC_PARTITIONS": "4",
        "DETOXMON_KAFKA__SESSION_TIMEOUT_S": "6",
        "DETOXMON_INFLUX__FLUSH_INTERVAL_S": "0.2",
        "DETOXMON_INFLUX__MAX_BACKOFF_S": "1",
        "DETOXMON_INFLUX__TIMEOUT_S": "2",
        "DETOXMON_INFLUX__HEARTBEAT_INTERVAL_S": "1",
        "DETOXMON_INFLUX__WORKER_ID": WORKER_ID,
    }


@pytest.fixture(scope="module")
def worker(
    stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    process = WorkerProcess(Path(tmp_path_factory.mktemp("worker")), worker_env(stack))
    process.start()
    try:
        yield process
    finally:
        process.stop()


@dataclass
class Gateway:
    """Publishes one reading every ``PUBLISH_EVERY_S`` until stopped, remembering each."""

    broker_url: str
    prefix: str
    sent: dict[str, int] = field(default_factory=dict)  # event_id -> event time, ns
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def reading(self, index: int) -> tuple[bytes, bytes]:
        observed = datetime.now(UTC)
        patient = f"{self.prefix}-{index % 4}"
        event_id = str(uuid.uuid4())
        self.sent[event_id] = int(observed.timestamp() * 1_000_000) * 1000
        message = {
            "kind": "vital_signs",
            "event_id": event_id,
            "patient_id": patient,
            "device_id": f"bm-{patient}",
            "ward": "ward-3",
            "source": "bedside_monitor",
            "observed_at": observed.isoformat(),
            "heart_rate": 60 + index % 40,
        }
        return patient.encode(), json.dumps(message).encode()

    async def run(self, *, count: int | None = None) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers(self.broker_url), acks="all"
        )
        await producer.start()
        try:
            index = 0
            while not self.stopping.is_set() and (count is None or index < count):
                key, value = self.reading(index)
                await producer.send_and_wait(topics.READINGS, value=value, key=key)
                index += 1
                if count is None:
                    await asyncio.sleep(PUBLISH_EVERY_S)
        finally:
            await producer.stop()


def stored(stack: EmbeddedStack, prefix: str) -> list[dict[str, Any]]:
    result: Any = query_v1(
        InfluxSettings(url=stack.influx.url),
        f"SELECT event_id, heart_rate FROM vitals WHERE patient_id =~ /^{prefix}-/",
        database="detoxmon",
        epoch="ns",
    )
    rows: list[dict[str, Any]] = []
    for series in result["results"][0].get("series", []):
        rows.extend(dict(zip(series["columns"], v, strict=True)) for v in series["values"])
    return rows


def stored_or_empty(stack: EmbeddedStack, prefix: str) -> list[dict[str, Any]]:
    """``stored`` while InfluxDB may still be starting."""
    try:
        return stored(stack, prefix)
    except OSError:
        return []


def heartbeats(stack: EmbeddedStack) -> list[int]:
    """Times (ns) of the worker's stored heartbeat points."""
    result: Any = query_v1(
        InfluxSettings(url=stack.influx.url),
        f"SELECT heartbeat FROM pipeline_health WHERE worker = '{WORKER_ID}' AND topic = ''",
        database="detoxmon",
        epoch="ns",
    )
    return [row[0] for s in result["results"][0].get("series", []) for row in s["values"]]


def retries(worker: WorkerProcess) -> list[int]:
    """Attempt numbers of the sink's retry lines in the worker's log."""
    return [int(n) for n in RETRY_LINE.findall(worker.process.log_path.read_text())]


def assert_exactly_once(rows: list[dict[str, Any]], sent: dict[str, int]) -> None:
    by_event = {row["event_id"]: row["time"] for row in rows}
    assert len(rows) == len(by_event) == len(sent)
    assert by_event == sent  # every reading, once, at its event time


async def test_an_influxdb_outage_delays_readings_and_loses_none(
    stack: EmbeddedStack, worker: WorkerProcess
) -> None:
    pid = worker.process.pid
    gateway = Gateway(stack.broker.url, "pt-outage")
    publishing = asyncio.create_task(gateway.run())
    try:
        await eventually(lambda: stored(stack, "pt-outage"), lambda r: len(r) >= 5, timeout_s=60)
        await eventually(lambda: heartbeats(stack), lambda beats: len(beats) >= 2, timeout_s=30)

        stack.influx.stop()
        down_at = time.time_ns()
        await asyncio.sleep(OUTAGE_S)
        assert worker.process.running()
        assert retries(worker), "the sink did not retry during the outage"
        sent_during_outage = len(gateway.sent)
        await asyncio.to_thread(stack.influx.start)  # same port, same data directory
        up_at = time.time_ns()
        await asyncio.sleep(2)
    finally:
        gateway.stopping.set()
        await publishing

    rows = await eventually(
        lambda: stored_or_empty(stack, "pt-outage"),
        lambda r: len(r) >= len(gateway.sent),
        timeout_s=60,
    )
    assert_exactly_once(rows, gateway.sent)
    assert sum(down_at <= t < up_at for t in gateway.sent.values()) >= OUTAGE_S / 0.5
    assert sent_during_outage < len(gateway.sent)  # readings kept arriving throughout
    assert worker.process.running()
    assert worker.process.pid == pid  # the same process: it never crashed
    attempts = retries(worker)
    assert max(attempts) >= 10  # retried throughout, backoff capped at 1 s
    print(  # the figures for the report
        f"\nreadings={len(gateway.sent)} retries={len(attempts)} max_attempt={max(attempts)}"
    )

    # The heartbeat stopped while InfluxDB was down (the dead-man's switch sees a gap) and resumed.
    times = heartbeats(stack)
    gaps = [(b - a) / 1e9 for a, b in itertools.pairwise(times)]
    assert max(gaps) >= OUTAGE_S - 5
    assert times[-1] > up_at


async def test_a_worker_stopped_mid_retry_leaves_its_events_to_the_next_worker(
    stack: EmbeddedStack, worker: WorkerProcess, tmp_path: Path
) -> None:
    stack.influx.stop()
    before = len(retries(worker))
    gateway = Gateway(stack.broker.url, "pt-handover")
    await gateway.run(count=12)
    await eventually(lambda: len(retries(worker)), lambda n: n >= before + 2, timeout_s=30)

    # SIGTERM while the sink retries. Faust cancels the agents at once (stream_wait_empty is
    # off), or the sink notices the stop first and logs "worker stopping"; which one wins is
    # timing. Either way the batch stays unacknowledged, which is what is checked below.
    returncode = await asyncio.to_thread(worker.process.stop, timeout_s=3)
    assert returncode in (0, -9, -15)
    await asyncio.to_thread(stack.influx.start)
    assert stored(stack, "pt-handover") == []  # the stopped worker wrote none of them

    successor = WorkerProcess(tmp_path / "successor", worker_env(stack), name="successor")
    await asyncio.to_thread(successor.start)
    try:
        rows = await eventually(
            lambda: stored(stack, "pt-handover"),
            lambda r: len(r) >= len(gateway.sent),
            timeout_s=60,
        )
        assert_exactly_once(rows, gateway.sent)
    finally:
        await asyncio.to_thread(successor.stop)
