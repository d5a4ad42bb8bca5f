"""Creating the pipeline's topics before anything produces to them.

A broker that auto-creates topics would give the first producer's topic its own default
partition count; the state tables need every patient-keyed topic to have the same count, so
the demo, the tests and deployments create them explicitly first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped]
from aiokafka.errors import TopicAlreadyExistsError  # type: ignore[import-untyped]

from streams.producer import bootstrap_servers


async def ensure_topics(
    broker_url: str, names: Iterable[str], *, partitions: int, replication_factor: int = 1
) -> list[str]:
    """Create each topic in ``names`` that does not exist yet; return the ones created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(broker_url))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [name for name in names if name not in existing]
        if wanted:
            # Created meanwhile by someone else is fine.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(name, partitions, replication_factor) for name in wanted]
                )
        return wanted
    finally:
        await admin.close()
