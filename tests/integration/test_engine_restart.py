"""Alert state survives a worker restart: the table is recovered from its changelog.

Half of the scripted patient's events go to one worker; it is stopped with two alerts
firing and unacknowledged, and a new worker (empty memory store) takes over. The
acknowledgements and the rest of the events then go to the new worker, and the alerts topic
must still carry exactly what ``replay`` produces: the escalations are timed from the first
worker's firing, the acknowledgements find their alerts, and every alert resolves.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from agents.embedded import EmbeddedStack
from agents.embedded.worker import WorkerProcess
from agents.engine import alert_id_for, default_rules
from agents.engine.docs import EXAMPLE_FILE
from agents.engine.replay import parse_event_line, replay
from schemas import Alert
from streams import topics
from streams.producer import bootstrap_servers
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration

PATIENT = "pt-restart01"
#: The patient-state table's changelog (app id "detoxmon").
CHANGELOG = "detoxmon-patient-state-changelog"


def renamed_events() -> list[dict[str, Any]]:
    """The example for another patient (acknowledgements re-pointed at that patient's ids)."""
    events = []
    for line in EXAMPLE_FILE.read_text().splitlines():
        event = json.loads(line.replace("pt-example01", PATIENT))
        events.append(event)
    fired = {}
    for alert in replay(
        [parse_event_line(json.dumps(e)) for e in events if e["kind"] != "alert_ack"],
        default_rules(),
    ).transitions:
        if alert.state == "firing":
            fired.setdefault(alert.rule_id, alert.at)
    for event in events:
        if event["kind"] == "alert_ack":
            original = next(
                rule
                for rule in fired
                if str(alert_id_for("pt-example01", rule, fired[rule])) == event["alert_id"]
            )
            event["alert_id"] = str(alert_id_for(PATIENT, original, fired[original]))
    return events


def when(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(
        event["at"] if event["kind"] == "alert_ack" else event["observed_at"]
    )


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


async def alerts(broker_url: str, done: Any) -> list[Alert]:
    key = PATIENT.encode()
    records = await read_topic(
        broker_url,
        topics.ALERTS,
        until=lambda rs: done([Alert.model_validate_json(r.value) for r in rs if r.key == key]),
        timeout_s=60,
    )
    return [Alert.model_validate_json(r.value) for r in records if r.key == key]


async def test_alert_state_survives_a_worker_restart(
    stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    events = renamed_events()
    expected = replay(
        [parse_event_line(json.dumps(e)) for e in events], default_rules()
    ).transitions
    acks = [event for event in events if event["kind"] == "alert_ack"]
    acked_at = min(when(ack) for ack in acks)
    readings = [event for event in events if event["kind"] != "alert_ack"]
    env = {
        **stack.env(),
        "DETOXMON_KAFKA__TOPIC_PARTITIONS": "4",
        "DETOXMON_KAFKA__SESSION_TIMEOUT_S": "6",
    }
    root = Path(tmp_path_factory.mktemp("restart"))

    first = WorkerProcess(root / "first", env, name="first")
    first.start()
    try:
        await publish(
            stack.broker.url, topics.READINGS, [e for e in readings if when(e) < acked_at]
        )
        await alerts(stack.broker.url, lambda got: sum(a.state == "firing" for a in got) >= 5)
    finally:
        first.stop()

    second = WorkerProcess(root / "second", env, name="second")
    second.start()
    try:
        await publish(stack.broker.url, topics.ACKS, acks)
        # Acknowledgements and readings travel on different topics: wait for the former, as
        # staff acknowledge before the next observations are taken.
        await alerts(
            stack.broker.url, lambda got: sum(a.state == "acknowledged" for a in got) == len(acks)
        )
        await publish(
            stack.broker.url, topics.READINGS, [e for e in readings if when(e) >= acked_at]
        )
        published = await alerts(stack.broker.url, lambda got: len(got) >= len(expected))
    finally:
        second.stop()

    assert [(a.transition_id, a.rule_id, a.state) for a in published] == [
        (a.transition_id, a.rule_id, a.state) for a in expected
    ]
    # Co-partitioned: the patient's state is on the partition number of their events.
    key = PATIENT.encode()
    observations = await read_topic(
        stack.broker.url, topics.OBSERVATIONS, until=lambda rs: any(r.key == key for r in rs)
    )
    changelog = await read_topic(
        stack.broker.url, CHANGELOG, until=lambda rs: any(r.key == key for r in rs)
    )
    assert {r.partition for r in observations if r.key == key} == {
        r.partition for r in changelog if r.key == key
    }
