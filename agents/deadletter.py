"""Sending rejected Kafka messages to the dead-letter topic, whole and with their reason."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import faust

from agents.app import dead_letter_topic
from agents.contract import ContractError
from schemas import DeadLetter

log = logging.getLogger(__name__)


def dead_letter_for(event: faust.EventT[bytes], error: ContractError) -> DeadLetter:
    """The dead-letter record for a rejected Kafka message."""
    message = event.message
    raw = message.value if isinstance(message.value, bytes) else b""
    key = message.key if isinstance(message.key, bytes) else None
    return DeadLetter.of(
        raw,
        key=key,
        path=f"kafka:{message.topic}",
        reason=error.reason,
        detail=error.detail,
        received_at=datetime.now(UTC),
        partition=message.partition,
        offset=message.offset,
    )


async def dead_letter(event: faust.EventT[bytes], error: ContractError) -> None:
    """Publish the record for ``event``; logs carry no message content (it may hold PHI)."""
    record = dead_letter_for(event, error)
    log.warning(
        "dead-lettered path=%s partition=%s offset=%s reason=%s detail=%s",
        record.path,
        record.partition,
        record.offset,
        record.reason,
        record.detail,
    )
    key = event.message.key if isinstance(event.message.key, bytes) else None
    await dead_letter_topic.send(key=key, value=record.model_dump_json().encode())
