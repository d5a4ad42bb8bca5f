"""A small typed producer for gateways that publish straight to Kafka.

It waits for every in-sync replica (``acks=all``) so a reading the broker acknowledged is not
lost with a broker; it keys each message by patient id, as the pipeline requires.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]

from schemas import EventBase, VitalSignsObservation
from schemas.common import RESERVED_FIELDS
from streams import topics


def wire_bytes(event: EventBase) -> bytes:
    """An event as a gateway sends it: without the fields only the pipeline may set."""
    return event.model_dump_json(exclude=set(RESERVED_FIELDS)).encode()


def bootstrap_servers(broker_url: str) -> list[str]:
    """Turn a Faust-style ``kafka://h:p;kafka://h2:p`` URL into aiokafka's server list."""
    servers = []
    for part in broker_url.replace(",", ";").split(";"):
        part = part.strip()
        if part:
            servers.append(part.removeprefix("kafka://"))
    if not servers:
        raise ValueError(f"no bootstrap server in broker URL {broker_url!r}")
    return servers


class GatewayProducer:
    """Publishes readings on the inbound topic.

    Usage::

        async with GatewayProducer("kafka://127.0.0.1:9092") as producer:
            await producer.send_observation(observation)
    """

    def __init__(self, broker_url: str, *, topic: str = topics.READINGS) -> None:
        self._topic = topic
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers(broker_url),
            acks="all",
            linger_ms=5,
        )

    async def __aenter__(self) -> Self:
        await self._producer.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._producer.stop()

    async def send_observation(self, observation: VitalSignsObservation) -> None:
        """Publish one observation and wait until the broker has it."""
        await self.send_raw(observation.patient_id.encode(), wire_bytes(observation))

    async def send_raw(self, key: bytes | None, value: bytes) -> None:
        """Publish bytes as they are (for tests of the dead-letter path, and replays)."""
        await self._producer.send_and_wait(self._topic, value=value, key=key)
