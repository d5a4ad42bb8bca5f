"""End offsets that hold on the embedded broker too.

Tansu answers a ListOffsets ``latest`` with the first offset of a partition's last record
batch plus one, not the last offset plus one (``docs/embedded-broker.md``): a reader that stops
at :meth:`AIOKafkaConsumer.end_offsets` misses every record after the first of the last batch.
A producer that lingers (``linger_ms`` > 0) writes such batches whenever two sends meet, so
the worker's outputs end that way routinely.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]

#: Longest :func:`end_offsets` waits for the last batch of a partition.
PROBE_TIMEOUT_S = 10.0


async def end_offsets(
    consumer: AIOKafkaConsumer,
    partitions: Sequence[TopicPartition],
    *,
    timeout_s: float = PROBE_TIMEOUT_S,
) -> dict[TopicPartition, int]:
    """The offset after each partition's last record, now.

    The broker's end offset, raised to the offset after the last record of the batch that
    holds its end - 1 (on Apache Kafka that record is the last one and nothing changes). The
    partitions must be assigned to ``consumer``, which is left positioned past what it read:
    seek before reading.

    Raises:
        TimeoutError: a partition's last batch did not arrive within ``timeout_s``.
    """
    ends: dict[TopicPartition, int] = dict(await consumer.end_offsets(list(partitions)))
    pending = {tp for tp in partitions if ends[tp] > 0}
    for tp in pending:
        consumer.seek(tp, ends[tp] - 1)
    async with asyncio.timeout(timeout_s):
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=200)
            for tp, records in batch.items():
                last = [r.offset for r in records if r.offset >= ends[tp] - 1]
                if last:
                    ends[tp] = max(ends[tp], max(last) + 1)
                    pending.discard(tp)
    return ends
