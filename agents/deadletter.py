"""Dead-lettering a Kafka event an agent cannot use, through the one dead-letter path.

The ingest paths and the agents share :func:`agents.ingest.dlq.send_dead_letter`, so every
dead letter has the same record, headers and log line whichever code refused it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import faust

from agents.contract import ContractError
from agents.ingest.dlq import Origin, send_dead_letter
from agents.ingest.formats import Rejection


async def dead_letter(event: faust.EventT[bytes], error: ContractError) -> None:
    """Publish the dead letter of ``event`` (its original bytes and key, and the reason)."""
    message = event.message
    raw = message.value if isinstance(message.value, bytes) else b""
    origin = Origin(
        path=f"kafka:{message.topic}",
        key=message.key if isinstance(message.key, bytes) else None,
        partition=message.partition,
        offset=message.offset,
    )
    await send_dead_letter(raw, origin, Rejection.of(error), received_at=datetime.now(UTC))
