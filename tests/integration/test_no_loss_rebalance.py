"""No page is lost while workers join, leave and restart (issue 8).

Alert transitions are published on the alerts topic without pause while a second worker joins
the group and leaves it, and the first worker restarts (rejoining and recovering its tables):
every transition must reach each of the two webhook receivers exactly once. Before the fixes
a transition that arrived during a rebalance or recovery could be skipped by the pager's stream
while its offset was committed (``agents/faust_fixes.py`` says why), and about one page in 200
was sent twice: the last delivered-pages entries a worker wrote before it stopped were missing
from the table the next owner recovered (docs/paging.md, "Exactly once"). The windows that
remain (a send in flight at the moment of a revocation, a worker killed mid-page) are not
exercised here: the restart is a clean stop.

The second worker's web server answers before it joins the group (Faust starts it before
recovery), so it is often stopped before it joins, sometimes with its JoinGroup pending (then
the restarted first worker rebalances twice). ``test_recovery_rebalance.py`` makes a running
worker give partitions away and take them back deterministically.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer

from agents.embedded import EmbeddedStack
from agents.embedded.worker import WorkerProcess
from schemas import Alert, AlertEvidence
from streams import topics
from streams.producer import bootstrap_servers
from tests.support.recording_server import RecordingServer
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

RECEIVERS = ("webhook-1", "webhook-2")
PATIENTS = [f"pt-churn{index:02d}" for index in range(12)]  # spread over every partition
PUBLISH_INTERVAL_S = 0.05


def firing(patient: str, number: int) -> Alert:
    now = datetime.now(UTC)
    alert_id = uuid.uuid4()
    return Alert(
        alert_id=alert_id,
        transition_id=uuid.uuid5(alert_id, "0:firing"),
        sequence=0,
        patient_id=patient,
        ward="ward-3",
        rule_id="pulse_high",
        priority="high",
        state="firing",
        at=now,
        summary=f"churn {number}",
        source="test",
        evidence=AlertEvidence(measure="heart_rate", value=131, observed_at=now),
        escalation_level=0,
        escalate_to="bedside_nurse",
    )


async def publish_until(
    broker_url: str, stop: asyncio.Event, sent: dict[uuid.UUID, tuple[int, int]]
) -> None:
    """Publish one transition every ``PUBLISH_INTERVAL_S`` until ``stop`` (each acked by all)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(broker_url), acks="all")
    await producer.start()
    try:
        number = 0
        while not stop.is_set():
            alert = firing(PATIENTS[number % len(PATIENTS)], number)
            where = await producer.send_and_wait(
                topics.ALERTS, key=alert.patient_id.encode(), value=alert.model_dump_json().encode()
            )
            sent[alert.transition_id] = (where.partition, where.offset)
            number += 1
            await asyncio.sleep(PUBLISH_INTERVAL_S)
    finally:
        await producer.stop()


def deliveries(pager: RecordingServer) -> Counter[tuple[uuid.UUID, str]]:
    """Pages received, by transition and receiver (``/page/1`` is ``webhook-1``)."""
    found: Counter[tuple[uuid.UUID, str]] = Counter()
    for request in pager.accepted():
        alert = Alert.model_validate_json(request.body)
        if alert.patient_id in PATIENTS:
            assert request.headers["Idempotency-Key"] == str(alert.transition_id)
            found[(alert.transition_id, f"webhook-{request.path.rsplit('/', 1)[1]}")] += 1
    return found


async def test_every_transition_is_paged_once_through_joins_leaves_and_a_restart(
    stack: EmbeddedStack, paging_pair: tuple[RecordingServer, WorkerProcess, WorkerProcess]
) -> None:
    pager, first, second = paging_pair
    started = time.monotonic()
    await asyncio.to_thread(first.start)
    stop, sent = asyncio.Event(), dict[uuid.UUID, tuple[int, int]]()
    publishing = asyncio.create_task(publish_until(stack.broker.url, stop, sent))
    try:
        await asyncio.sleep(1)
        await asyncio.to_thread(second.start)  # joins: partitions move to it
        await asyncio.sleep(1)
        await asyncio.to_thread(second.stop)  # leaves: they move back
        await asyncio.to_thread(first.stop)  # the restart of issue 8
        await asyncio.to_thread(first.start)
        await asyncio.sleep(1)
    finally:
        stop.set()
        await publishing
    churn_s = time.monotonic() - started

    expected = {(transition, receiver) for transition in sent for receiver in RECEIVERS}
    try:
        found = await eventually(
            lambda: deliveries(pager), lambda d: expected <= set(d), timeout_s=30
        )
    except AssertionError:
        found = deliveries(pager)
    missing = expected - set(found)
    twice = {key: n for key, n in found.items() if n > 1}
    print(
        f"\n{len(sent)} transitions in {churn_s:.0f} s of churn; {len(missing)} deliveries "
        f"missing, {len(twice)} repeated; whole test {time.monotonic() - started:.0f} s"
    )
    lost = sorted({(sent[t], r) for t, r in missing})
    assert not missing, f"never paged ((partition, offset), receiver): {lost}"
    assert not twice, f"paged more than once: {[(sent[t], r, n) for (t, r), n in twice.items()]}"
