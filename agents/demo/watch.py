"""Following the pipeline's output topics, as the board and the end-of-run figures need.

A plain aiokafka consumer without a group reads the observations, snapshots, alerts and
dead-letter topics from their beginning (the demo creates them fresh), so it sees what the
worker published, not what the demo meant to send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRecord  # type: ignore[import-untyped]
from pydantic import ValidationError

from agents.contract import ContractError, parse_accepted
from agents.demo.ward import WardView
from schemas import Alert, InboundEvent, VitalSignsObservation
from schemas.deadletter import DeadLetter
from schemas.state import PatientSnapshot
from streams import topics
from streams.producer import bootstrap_servers

log = logging.getLogger(__name__)

WATCHED = (topics.OBSERVATIONS, topics.SNAPSHOTS, topics.ALERTS, topics.DEAD_LETTER)


@dataclass
class Watched:
    """What the topics held: the board's view, the accepted events and the dead letters."""

    view: WardView = field(default_factory=WardView)
    events: list[InboundEvent] = field(default_factory=list)
    dead_letters: Counter[tuple[str, str]] = field(default_factory=Counter)
    records: int = 0


class PipelineWatcher:
    """Consumes the watched topics in the background into :class:`Watched`."""

    def __init__(self, broker_url: str) -> None:
        self.watched = Watched()
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers(broker_url),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=100,
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Subscribe and start consuming."""
        await self._consumer.start()
        self._consumer.subscribe(list(WATCHED))
        self._task = asyncio.create_task(self._consume(), name="demo-watcher")

    async def stop(self) -> None:
        """Stop consuming."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    async def _consume(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    self.take(record)

    def take(self, record: ConsumerRecord) -> None:
        """Apply one record; one that does not parse is skipped (and logged without content)."""
        self.watched.records += 1
        watched = self.watched
        try:
            if record.topic == topics.OBSERVATIONS:
                event = parse_accepted(record.value)
                watched.events.append(event)
                if isinstance(event, VitalSignsObservation):
                    watched.view.on_vitals(event)
            elif record.topic == topics.SNAPSHOTS:
                watched.view.on_snapshot(PatientSnapshot.model_validate_json(record.value))
            elif record.topic == topics.ALERTS:
                watched.view.on_alert(Alert.model_validate_json(record.value))
            elif record.topic == topics.DEAD_LETTER:
                letter = DeadLetter.model_validate_json(record.value)
                watched.dead_letters[(letter.path, letter.reason)] += 1
        except (ContractError, ValidationError):
            log.warning("skipped a record of %s that does not parse", record.topic)
