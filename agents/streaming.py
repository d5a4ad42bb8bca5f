"""Typed access to Faust's manual-acknowledgement streams.

Every agent acknowledges an event only after its side effect (a send, a write, a page) is
done, because Faust acknowledges a crashed or cancelled event anyway when acks are automatic.
Faust's ``StreamT`` interface does not declare ``noack``/``noack_take``, hence the casts.
That an event dropped by Faust during a rebalance is fetched again, and that no offset is
committed past an unacknowledged event, is the consumer's job: :mod:`agents.faust_fixes`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import cast

import faust
from faust.types import EventT, StreamT


def manual_ack(stream: StreamT[bytes]) -> faust.Stream[bytes]:
    """The stream with automatic acknowledgement off; call ``ack(event)`` when done."""
    return cast(faust.Stream[bytes], cast(faust.Stream[bytes], stream).noack())


async def event_batches(
    stream: StreamT[bytes], max_events: int, within_s: float
) -> AsyncIterator[Sequence[EventT[bytes]]]:
    """Batches of up to ``max_events`` events, or whatever arrived within ``within_s``.

    The events are not acknowledged; acknowledge each with ``stream.ack(event)``.
    """
    concrete = cast(faust.Stream[bytes], stream)
    async for batch in concrete.noack_take(max_events, within=within_s):
        yield cast(Sequence[EventT[bytes]], batch)
