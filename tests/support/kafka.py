"""Reading topics from the beginning, as an operator's tool would, without a consumer group."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from streams.producer import bootstrap_servers


async def read_topic(
    broker_url: str,
    topic: str,
    *,
    until: Callable[[list[ConsumerRecord]], bool],
    timeout_s: float = 60.0,
) -> list[ConsumerRecord]:
    """All records of ``topic`` from the start, polling until ``until(records)`` or timeout."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers(broker_url),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        partitions = None
        deadline = time.monotonic() + timeout_s
        while partitions is None and time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic)
            if partitions is None:
                await consumer._client.force_metadata_update()
                await asyncio.sleep(0.2)
        if not partitions:
            return []
        assigned = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assigned)
        # An explicit seek to each partition's first offset: with aiokafka 0.14 on Tansu,
        # seek_to_beginning() sometimes left a partition at its end.
        for tp, first in (await consumer.beginning_offsets(assigned)).items():
            consumer.seek(tp, first)
        records: list[ConsumerRecord] = []
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for items in batch.values():
                records.extend(items)
            if until(records):
                break
        return records
    finally:
        await consumer.stop()
