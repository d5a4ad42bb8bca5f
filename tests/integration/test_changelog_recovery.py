"""A restarted worker recovers every table entry of a changelog batch of several records.

Tansu, the embedded broker, answers a ListOffsets for a partition's end with the first offset
of its last record batch plus one (docs/embedded-broker.md), and Faust's recovery reads a
changelog only up to the end the broker reports (``faust/tables/recovery.py`` 669-686), so the
rest of a last batch of several records was never restored. ``ChangelogEndConsumer`` in
``agents/faust_fixes.py`` reads each changelog partition's end from its records instead.

The batch is written straight to the ``pager-alerts`` changelog (in the format Faust writes:
JSON key and value) while the worker is stopped; the restarted worker must know every alert in
it, which its acknowledgement endpoint shows: 404 for an alert it does not hold.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from agents.embedded import EmbeddedStack
from agents.embedded.worker import WorkerProcess
from streams.producer import bootstrap_servers
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

TOKEN = "changelog-recovery-token"
CHANGELOG = "detoxmon-pager-alerts-changelog"
ENTRIES = 6


def recoveries(worker: WorkerProcess) -> int:
    """How many times the worker finished a recovery (Faust logs "Worker ready" each time)."""
    try:
        return worker.process.log_path.read_text(errors="replace").count("Worker ready")
    except OSError:
        return 0


def alert_record(alert_id: uuid.UUID) -> str:
    """A ``pager-alerts`` value: an ``AlertRecord`` as JSON text."""
    return json.dumps(
        {
            "alert_id": str(alert_id),
            "patient_id": "pt-recover01",
            "ward": "ward-3",
            "rule_id": "pulse_high",
            "priority": "high",
            "state": "firing",
            "sequence": 0,
            "first_paged_at": datetime.now(UTC).isoformat(),
            "carriers": [],
        }
    )


async def write_one_batch(broker_url: str, alert_ids: list[uuid.UUID]) -> tuple[list[int], int]:
    """Write one entry per alert to partition 0 in a single batch; its offsets, reported end."""
    servers = bootstrap_servers(broker_url)
    producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all", linger_ms=500)
    await producer.start()
    try:
        futures = [
            await producer.send(
                CHANGELOG,
                key=json.dumps(str(alert_id)).encode(),
                value=json.dumps(alert_record(alert_id)).encode(),
                partition=0,
            )
            for alert_id in alert_ids
        ]
        offsets = [(await future).offset for future in futures]
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=servers)
    await consumer.start()
    try:
        tp = TopicPartition(CHANGELOG, 0)
        reported: int = (await consumer.end_offsets([tp]))[tp]
    finally:
        await consumer.stop()
    return offsets, reported


def ack_status(worker: WorkerProcess, alert_id: uuid.UUID) -> int:
    """The acknowledgement endpoint's answer for ``alert_id`` (404: the worker lacks it)."""
    request = urllib.request.Request(
        f"{worker.url}/alerts/{alert_id}/ack",
        data=json.dumps({"by": "rn-4411", "reason": "attending_patient"}).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


async def test_a_restarted_worker_recovers_the_whole_last_batch_of_a_changelog(
    stack: EmbeddedStack, tmp_path: Path
) -> None:
    started = time.monotonic()
    env = {
        **stack.env(),
        "DETOXMON_PAGER__ACK_TOKENS": json.dumps([TOKEN]),
        "DETOXMON_KAFKA__TOPIC_PARTITIONS": "4",
        "DETOXMON_KAFKA__SESSION_TIMEOUT_S": "6",
        "DETOXMON_INFLUX__FLUSH_INTERVAL_S": "0.2",
    }
    worker = WorkerProcess(tmp_path / "worker", env)
    try:
        await asyncio.to_thread(worker.start)  # creates the changelog topics
        await eventually(lambda: recoveries(worker), lambda n: n >= 1, timeout_s=30)
        await asyncio.to_thread(worker.stop)

        alert_ids = [uuid.uuid4() for _ in range(ENTRIES)]
        offsets, reported = await write_one_batch(stack.broker.url, alert_ids)
        assert offsets == list(range(offsets[0], offsets[0] + ENTRIES)), offsets

        await asyncio.to_thread(worker.start)
        await eventually(lambda: recoveries(worker), lambda n: n >= 2, timeout_s=30)
        answers = {alert_id: ack_status(worker, alert_id) for alert_id in alert_ids}
    finally:
        worker.stop()
    print(
        f"\nbatch at offsets {offsets[0]}-{offsets[-1]}, broker reported end {reported}; "
        f"answers {sorted(answers.values())}; {time.monotonic() - started:.0f} s"
    )
    missing = [offset for offset, a in zip(offsets, alert_ids, strict=True) if answers[a] == 404]
    assert not missing, f"entries at these offsets not recovered: {missing}"
    assert set(answers.values()) == {202}, answers
