"""A running worker that gets partitions back recovers their tables and pages again.

The churn test (``test_no_loss_rebalance.py``) rarely makes a *running* worker rebalance a
second time: its second worker is usually stopped before it has joined the group. This test
does it on purpose: worker A pages one transition per patient (so every changelog partition of
the pager's tables holds entries), worker B joins and takes half the partitions, then leaves;
A takes them back and has to recover their tables while its fetcher is already running, then
page a second round, every transition to each receiver exactly once.

Before the fix in ``agents/faust_fixes.py`` (``NoLossConsumer.getmany``), A's first recovery
with its fetcher already running (here at B's join) dropped the changelog records of the batch
fetched when flow resumed (the seek back only covers stream partitions), never reached the
changelog's end offset and hung: A never logged "Worker ready" again and paged nothing more.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from agents.embedded import EmbeddedStack
from agents.embedded.worker import WorkerProcess
from streams import topics
from streams.producer import bootstrap_servers
from tests.integration.test_no_loss_rebalance import PATIENTS, RECEIVERS, deliveries, firing
from tests.support.recording_server import RecordingServer
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

READY = "Worker ready"  # Faust logs it at the end of every recovery (tables/recovery.py 667)


def recoveries(worker: WorkerProcess) -> int:
    """How many times the worker finished a recovery (one per rebalance)."""
    try:
        return worker.process.log_path.read_text(errors="replace").count(READY)
    except OSError:
        return 0


async def page_round(broker_url: str, number: int) -> set[uuid.UUID]:
    """Publish one transition per patient (every partition); their ids."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(broker_url), acks="all")
    await producer.start()
    try:
        sent = set()
        for patient in PATIENTS:
            alert = firing(patient, number)
            await producer.send_and_wait(
                topics.ALERTS, key=patient.encode(), value=alert.model_dump_json().encode()
            )
            sent.add(alert.transition_id)
        return sent
    finally:
        await producer.stop()


async def test_a_worker_recovers_partitions_it_gets_back_and_pages_them(
    stack: EmbeddedStack, paging_pair: tuple[RecordingServer, WorkerProcess, WorkerProcess]
) -> None:
    pager, first, second = paging_pair
    started = time.monotonic()
    await asyncio.to_thread(first.start)
    await eventually(lambda: recoveries(first), lambda n: n >= 1, timeout_s=30)
    sent = await page_round(stack.broker.url, 0)
    expected = {(t, r) for t in sent for r in RECEIVERS}
    await eventually(lambda: deliveries(pager), lambda d: expected <= set(d), timeout_s=20)

    await asyncio.to_thread(second.start)  # joins: A gives it half the partitions
    await eventually(lambda: recoveries(second), lambda n: n >= 1, timeout_s=30)
    await eventually(lambda: recoveries(first), lambda n: n >= 2, timeout_s=30)
    await asyncio.to_thread(second.stop)  # leaves: A takes them back and recovers them
    await eventually(lambda: recoveries(first), lambda n: n >= 3, timeout_s=30)

    sent |= await page_round(stack.broker.url, 1)
    expected = {(t, r) for t in sent for r in RECEIVERS}
    try:
        found = await eventually(
            lambda: deliveries(pager), lambda d: expected <= set(d), timeout_s=20
        )
    except AssertionError:
        found = deliveries(pager)
    missing = expected - set(found)
    twice = {key: n for key, n in found.items() if n > 1}
    print(
        f"\n{len(sent)} transitions; {len(missing)} deliveries missing, {len(twice)} repeated; "
        f"{time.monotonic() - started:.0f} s"
    )
    assert not missing, f"never paged: {len(missing)} of {len(expected)}"
    assert not twice, f"paged more than once: {twice}"
