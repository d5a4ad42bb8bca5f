"""A consumer that never loses an event across rebalances and recoveries (issue 8).

Hand-written because faust-streaming 0.15.3 loses events in the window where a worker joins,
leaves or recovers its tables, and no setting avoids it (paths are under ``faust/``, lines of
the installed 0.15.3):

1. **Events fetched during recovery are dropped and not fetched again.** Recovery resumes flow
   while it reads changelogs (``tables/recovery.py`` 451, 478), then on completion resumes the
   stream partitions and seeks them to the committed offsets (659, 654-656) while the fetcher
   runs, and only then calls ``app.flow_control.resume()`` (659), which *clears* every agent's
   queue (``mode/utils/queues.py`` 97-101; channel queues are ``clear_on_resume=True``,
   ``channels.py`` 143-145). Whatever was fetched between the seek and the clear is dropped,
   unacknowledged, and the fetch position is already past it. A partition with no committed
   offset is not even sought (``aiokafka/consumer/consumer.py`` 901: ``if offset and offset >
   0``), and a refetched record below the consumer's read offset is dropped too
   (``transport/consumer.py`` 1206-1225, "DROPPED MESSAGE"). Seen in the test: a restarted
   worker paged offsets 0 and 1 of a partition, then 29 onwards; 2-28 never reached the pager.
2. **The commit can pass an event that was never processed.** ``Consumer._new_offset``
   (``transport/consumer.py`` 1097-1151) checks the head of the acknowledged offsets with
   ``min(acked) - committed_offset > 1`` although the committed offset is the *next* offset to
   process (off by one: a single missing head offset is committed past), skips the check when
   the committed offset is 0 or unknown, and counts as done every offset of a "gap" the fetch
   loop inferred from a jump of the read offset (1157-1168, 1210-1215), a jump a seek or a
   cleared queue also produces; the gap even includes the record being delivered. And the
   pure-Python stream acknowledges the events it skips during a rebalance (``streams.py``
   1284-1300, 1342), so the last stream to release a skipped event makes it committable.

The fix, in one consumer class (the transport's own, with this mixin first):

- after every ``resume_flow`` (which always follows a queue clear) the next fetch first seeks
  the stream partitions back to their committed offsets, and the rest of a batch fetched
  before is not delivered, so everything dropped is fetched again (duplicates are harmless:
  every agent is idempotent);
- a partition without a committed offset is sought to its earliest offset (the app's reset
  policy), and that offset becomes the base of its commits;
- a committed offset only ever advances over a contiguous run of acknowledged offsets starting
  exactly at the committed one; no inferred gap counts;
- an acknowledgement of a message from another consumer generation, or made while flow is
  suspended (a skip, or an event finishing during a rebalance), is not counted: it is
  redelivered instead.

Limits: an input topic with missing offsets (compaction, transaction markers) would stall its
commits at the first missing offset instead of skipping it; none of this project's stream
topics has any. Rebalances redeliver up to one commit interval of processed events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import faust
from faust.transport.consumer import Consumer
from faust.types import TP, Message
from faust.types.tuples import ack_lock

log = logging.getLogger(__name__)

#: Pause before retrying a seek that failed (a rebalance under way, say).
RESEEK_RETRY_S = 0.5


class NoLossConsumer(Consumer):
    """Mixin for a Faust consumer class: see the module docstring. Use :func:`install`."""

    _reseek_streams: bool = False

    def resume_flow(self) -> None:
        """Resume, and seek back before the next fetch: the queues were just cleared."""
        super().resume_flow()
        self._reseek_streams = True

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:  # noqa: ASYNC109
        """Faust's fetch, preceded by the pending seek; stop delivering once one is due."""
        if self._reseek_streams:
            self._reseek_streams = False
            try:
                if self.assignment():
                    await self.perform_seek()
            except Exception as exc:  # retried: the next rebalance seeks anyway
                log.warning("seek back to committed offsets failed, retrying: %r", exc)
                self._reseek_streams = True
                await asyncio.sleep(RESEEK_RETRY_S)
            return
        async for tp, message in super().getmany(timeout):
            if self._reseek_streams:
                break  # fetched before the clear: the seek fetches it again
            yield tp, message

    async def perform_seek(self) -> None:
        """Seek to committed offsets; partitions without one to their earliest offset."""
        await super().perform_seek()
        if self.app.conf.consumer_auto_offset_reset != "earliest":
            return
        acking = self.app.topics.acking_topics
        unknown = [
            tp for tp in self.assignment() if tp.topic in acking and not self._committed_offset[tp]
        ]
        if not unknown:
            return
        earliest = await self.earliest_offsets(*unknown)
        for tp in unknown:
            start = earliest.get(tp)
            if start is not None and start >= 0:
                await self.seek(tp, start)
                self._committed_offset[tp] = start

    def ack(self, message: Message) -> bool:
        """Count the acknowledgement only if it is of this generation, with flow running."""
        if (
            message.generation_id != self.app.consumer_generation_id
            or not self.app.flow_control.is_active()
        ):
            with ack_lock:
                message.acked = True
            self._unacked_messages.discard(message)
            return False
        return super().ack(message)

    def _new_offset(self, tp: TP) -> int | None:
        """The end of the run of acknowledged offsets starting at the committed offset."""
        base = self._committed_offset[tp]
        acked = self._acked[tp]
        if base is None or not acked:
            return None
        acked.sort()
        end = base
        for offset in acked:
            if offset > end:
                break
            end = max(end, offset + 1)
        done = [offset for offset in acked if offset < end]
        del acked[: len(done)]
        self._acked_index[tp].difference_update(done)
        return end if end > base else None

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Never count an offset as done because the fetch did not show it (see docstring)."""


def install(app: faust.App) -> None:
    """Make ``app``'s consumer a :class:`NoLossConsumer` of its transport's consumer class.

    Call after anything that replaces ``app.transport`` and before the consumer is created
    (``create_app`` does both). Idempotent.
    """
    transport = app.transport
    base = transport.Consumer
    if not issubclass(base, NoLossConsumer):
        # The transport's class attribute stays; this instance's consumer class changes
        # (faust declares it a ClassVar, hence the ignore).
        transport.Consumer = type(  # type: ignore[misc]
            f"NoLoss{base.__name__}", (NoLossConsumer, base), {"__module__": __name__}
        )
