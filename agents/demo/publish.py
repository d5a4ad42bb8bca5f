"""Publishing a simulation through the gateway paths, in send order, at the clock's pace.

Most patients' messages go to Kafka as a bedside gateway would (:class:`GatewayProducer`); the
patients of the HTTP gateway's ward (the telehealth cohort) go to the worker's
``POST /ingest`` with the gateway's bearer token. Each patient stays on one path, so their
messages keep their order. Malformed and implausible messages are sent as they are: the
pipeline dead-letters them (over HTTP with a 400 or 422), and the demo carries on.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp

from agents.demo.clock import SimClock
from agents.demo.gateway import DemoGateway
from streams.producer import GatewayProducer
from streams.ward import SimMessage

#: Attempts per HTTP message when the worker answers 503 or the connection fails.
HTTP_ATTEMPTS = 3


@dataclass
class PublishCounts:
    """What was sent on each path, and how ``/ingest`` answered."""

    kafka: int = 0
    http_status: Counter[int] = field(default_factory=Counter)
    http_failed: int = 0

    @property
    def http(self) -> int:
        """Messages posted over HTTP (answered or not)."""
        return sum(self.http_status.values()) + self.http_failed

    def describe(self) -> str:
        """One line for the end of the run."""
        answers = ", ".join(f"{n} x {status}" for status, n in sorted(self.http_status.items()))
        failed = f", {self.http_failed} unanswered" if self.http_failed else ""
        return (
            f"{self.kafka} via Kafka, {self.http} via HTTP POST /ingest "
            f"({answers or 'none'}{failed})"
        )


class Publisher:
    """Sends messages when the clock says they are due, each on its patient's path."""

    def __init__(
        self,
        *,
        producer: GatewayProducer,
        session: aiohttp.ClientSession,
        ingest_url: str,
        gateway: DemoGateway,
        http_patients: frozenset[str],
        clock: SimClock,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._producer = producer
        self._session = session
        self._ingest_url = ingest_url
        self._gateway = gateway
        self._http_keys = frozenset(p.encode() for p in http_patients)
        self._clock = clock
        self._now = now
        self.counts = PublishCounts()

    async def run(self, messages: Sequence[SimMessage]) -> None:
        """Send every message in order, waiting for each one's due time."""
        for message in messages:
            wait = (self._clock.due(message.send_at) - self._now()).total_seconds()
            if wait > 0:
                await asyncio.sleep(wait)
            await self.send(message)

    async def send(self, message: SimMessage) -> None:
        """Send one message on its patient's path."""
        if message.key in self._http_keys:
            await self._post(message.value)
        else:
            await self._producer.send_raw(message.key, message.value)
            self.counts.kafka += 1

    async def _post(self, body: bytes) -> None:
        for attempt in range(1, HTTP_ATTEMPTS + 1):
            try:
                async with self._session.post(
                    self._ingest_url, data=body, headers=self._gateway.headers()
                ) as response:
                    await response.read()
                    if response.status != 503 or attempt == HTTP_ATTEMPTS:
                        self.counts.http_status[response.status] += 1
                        return
            except aiohttp.ClientError:
                if attempt == HTTP_ATTEMPTS:
                    self.counts.http_failed += 1
                    return
            await asyncio.sleep(attempt)
