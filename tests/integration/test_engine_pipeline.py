"""The rule engine in a real worker on the real broker, against ``detoxmon replay``.

The scripted patient's 96 hours (``schemas/examples/patient-96h.jsonl``) go in as a gateway
sends them (readings topic, through validation) with the acknowledgements on the acks topic,
in three bursts: up to the acknowledgement, the acknowledgements once the pages they answer
are out, then the rest. Hours of event time pass in seconds, so this also shows that the
worker's timer does not mistake a fast backlog for silence. The alerts topic must carry
exactly the transitions ``detoxmon replay`` prints for the same file: same ids, same states,
same evidence.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from agents.embedded import EmbeddedStack
from agents.embedded.worker import WorkerProcess
from agents.engine import DEFAULT_RULES_FILE
from agents.engine.docs import EXAMPLE_FILE
from schemas import Alert, PatientSnapshot
from streams import topics
from streams.producer import bootstrap_servers
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration

PATIENT = b"pt-example01"


@pytest.fixture(scope="module")
def engine_worker(
    stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """A worker with the default rules file named explicitly, as a deployment would."""
    env = {
        **stack.env(),
        "DETOXMON_RULES_FILE": str(DEFAULT_RULES_FILE),
        "DETOXMON_KAFKA__TOPIC_PARTITIONS": "4",
        "DETOXMON_KAFKA__SESSION_TIMEOUT_S": "6",
    }
    worker = WorkerProcess(Path(tmp_path_factory.mktemp("engine-worker")), env)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


async def publish(broker_url: str, topic: str, messages: list[dict[str, Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(broker_url), acks="all")
    await producer.start()
    try:
        for message in messages:
            await producer.send_and_wait(
                topic, value=json.dumps(message).encode(), key=message["patient_id"].encode()
            )
    finally:
        await producer.stop()


def replayed() -> list[Alert]:
    """What ``detoxmon replay`` prints for the example, run as the command it is."""
    output = subprocess.run(
        [sys.executable, "-m", "agents.cli", "replay", str(EXAMPLE_FILE)],
        capture_output=True,
        check=True,
        text=True,
        timeout=120,
    ).stdout
    return [Alert.model_validate_json(line) for line in output.splitlines()]


async def alerts_of_patient(broker_url: str, done: Any, timeout_s: float = 60) -> list[Alert]:
    records = await read_topic(
        broker_url,
        topics.ALERTS,
        until=lambda rs: done([Alert.model_validate_json(r.value) for r in rs if r.key == PATIENT]),
        timeout_s=timeout_s,
    )
    return [Alert.model_validate_json(r.value) for r in records if r.key == PATIENT]


def when(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(
        event["at"] if event["kind"] == "alert_ack" else event["observed_at"]
    )


async def test_the_96_hour_example_pages_on_the_alerts_topic_exactly_as_replay_does(
    engine_worker: WorkerProcess, stack: EmbeddedStack
) -> None:
    expected = await asyncio.to_thread(replayed)
    events = [json.loads(line) for line in EXAMPLE_FILE.read_text().splitlines()]
    acks = [event for event in events if event["kind"] == "alert_ack"]
    acked_at = min(when(ack) for ack in acks)
    readings = [event for event in events if event["kind"] != "alert_ack"]
    before = [event for event in readings if when(event) < acked_at]
    after = [event for event in readings if when(event) >= acked_at]
    acked_ids = {ack["alert_id"] for ack in acks}

    await publish(stack.broker.url, topics.READINGS, before)
    await alerts_of_patient(
        stack.broker.url,
        lambda alerts: acked_ids <= {str(a.alert_id) for a in alerts if a.state == "firing"},
    )
    await publish(stack.broker.url, topics.ACKS, acks)
    await alerts_of_patient(
        stack.broker.url,
        lambda alerts: sum(a.state == "acknowledged" for a in alerts) == len(acks),
    )
    await publish(stack.broker.url, topics.READINGS, after)
    published = await alerts_of_patient(
        stack.broker.url, lambda alerts: len(alerts) >= len(expected)
    )

    assert [(a.transition_id, a.rule_id, a.state) for a in published] == [
        (a.transition_id, a.rule_id, a.state) for a in expected
    ]
    assert published == expected
    states = {a.state for a in published if a.rule_id == "ciwa_rise_with_tachycardia_peak"}
    assert states == {"firing", "escalated", "acknowledged", "resolved"}


async def test_a_snapshot_follows_every_evaluated_event(
    engine_worker: WorkerProcess, stack: EmbeddedStack
) -> None:
    count = sum(1 for _ in EXAMPLE_FILE.read_text().splitlines())
    records = await read_topic(
        stack.broker.url,
        topics.SNAPSHOTS,
        until=lambda rs: sum(r.key == PATIENT for r in rs) >= count,
        timeout_s=60,
    )
    snapshots = [PatientSnapshot.model_validate_json(r.value) for r in records if r.key == PATIENT]
    assert len(snapshots) == count
    last = snapshots[-1]
    assert (last.at.isoformat(), last.phase, last.active_alerts) == (
        "2025-03-07T08:00:00+00:00",
        "early",
        0,
    )
    assert (last.news2, last.news2_stale, last.half_life_class) == (0, False, "long")
