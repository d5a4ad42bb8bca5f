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
  the stream partitions back to their committed offsets, and the stream records of a batch
  fetched before are not delivered, so everything dropped is fetched again (duplicates are
  harmless: every agent is idempotent). Changelog records of that batch *are* delivered: the
  seek does not cover changelog partitions (they have no committed offset; recovery positions
  them itself, ``tables/recovery.py`` 433-439), so a dropped changelog record would never be
  fetched again. Dropping them was a bug of this mixin: the fetcher of a worker already
  running is not stopped on a rebalance (``app/base.py`` 1790-1840; only a stop does,
  1723-1737), so recovery's ``_fetcher.maybe_start()`` (``tables/recovery.py`` 453) is a
  no-op and the fetcher waits in ``_wait_next_records`` (``transport/consumer.py`` 776-783)
  for flow to resume; recovery resumes it (450-452), and the very batch it then fetched,
  the changelog records recovery waits for, was thrown away, so recovery waited for ever
  (``signal_recovery_end``, 465) and the worker's partitions were never processed;
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

**Changelog end offsets** (:class:`ChangelogEndConsumer`). Recovery reads each changelog
partition up to the end offset the broker reports for it, minus one (``tables/recovery.py``
669-686, the ``highwaters`` call in the aiokafka driver, ``transport/drivers/aiokafka.py``
1054-1063, is a ListOffsets ``latest``), and stops there (925-927). Tansu, the embedded
broker, reports the first offset of the partition's last record batch plus one instead of the
last offset plus one (``docs/embedded-broker.md``), so the rest of a last batch of several
records (the rule engine writes ``patient-state`` in batches) was not restored. The mixin
reads the batch holding each changelog partition's reported end - 1 (``streams.offsets``,
shared with the tools that read a topic to its end) with a separate group-less consumer and
raises the end to the offset after the last record it got. It never lowers an end and never
raises it past a record that exists (a raised end the records cannot reach would make
recovery wait for ever); on Apache Kafka the record at end - 1 is the last one and nothing
changes. If the probe fails or takes longer than ``END_PROBE_TIMEOUT_S`` the reported ends
are used, as Faust would.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping

import aiokafka  # type: ignore[import-untyped]
import faust
from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import Transport, credentials_to_aiokafka_auth, server_list
from faust.types import TP, Message
from faust.types.tuples import ack_lock

from streams.offsets import end_offsets

log = logging.getLogger(__name__)

#: Pause before retrying a seek that failed (a rebalance under way, say).
RESEEK_RETRY_S = 0.5

#: Longest the changelog end probe may take; past it, the broker's end offsets are used as is.
END_PROBE_TIMEOUT_S = 10.0


class NoLossConsumer(Consumer):
    """Mixin for a Faust consumer class: see the module docstring. Use :func:`install`."""

    _reseek_streams: bool = False

    def resume_flow(self) -> None:
        """Resume, and seek back before the next fetch: the queues were just cleared."""
        super().resume_flow()
        self._reseek_streams = True

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:  # noqa: ASYNC109
        """Faust's fetch, preceded by the pending seek; no stream record once one is due.

        Changelog records are always delivered: the seek covers stream partitions only
        (committed offsets), so a changelog record dropped here would never be fetched again
        and table recovery would wait for it for ever (see the module docstring).
        """
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
            if self._reseek_streams and not self._is_changelog_tp(tp):
                continue  # a stream record fetched before the clear: the seek fetches it again
            yield tp, message  # a changelog record: nothing would fetch it again

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


class ChangelogEndConsumer(Consumer):
    """Mixin: changelog end offsets from the records, for brokers that under-report them.

    See the module docstring ("Changelog end offsets"). Use :func:`install`.
    """

    async def highwaters(self, *partitions: TP) -> Mapping[TP, int]:
        """The broker's end offsets; a changelog partition's raised to its last record + 1."""
        # The transport's consumer class, after this mixin in the MRO, implements it.
        reported = dict(await super().highwaters(*partitions))  # type: ignore[safe-super]
        probe = {
            tp: end
            for tp, end in reported.items()
            if end is not None and end > 0 and self._is_changelog_tp(tp)
        }
        if not probe:
            return reported
        try:
            found = await asyncio.wait_for(self._records_end(probe), END_PROBE_TIMEOUT_S)
        except Exception as exc:  # the broker's answer is what Faust would have used
            log.warning("changelog end probe failed, using reported end offsets: %r", exc)
            return reported
        for tp, end in found.items():
            if end > reported[tp]:
                log.info(
                    "changelog %s[%d]: broker reported end offset %d, records run to %d",
                    tp.topic,
                    tp.partition,
                    reported[tp],
                    end,
                )
                reported[tp] = end
        return reported

    async def _records_end(self, reported: Mapping[TP, int]) -> dict[TP, int]:
        """The offset after each partition's last record (at least the reported end), read
        by :func:`streams.offsets.end_offsets` with a fresh, group-less consumer, so the
        worker's own positions are left alone."""
        conf = self.app.conf
        probe = aiokafka.AIOKafkaConsumer(
            bootstrap_servers=server_list(self.transport.url, Transport.default_port),
            client_id=f"{conf.broker_client_id}-changelog-end",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="none",
            fetch_max_wait_ms=100,
            request_timeout_ms=int(conf.broker_request_timeout * 1000),
            **credentials_to_aiokafka_auth(conf.broker_credentials, conf.ssl_context),
        )
        await probe.start()
        try:
            tps = {aiokafka.TopicPartition(tp.topic, tp.partition): tp for tp in reported}
            probe.assign(list(tps))
            found = await end_offsets(probe, list(tps), timeout_s=END_PROBE_TIMEOUT_S)
            return {tp: max(reported[tp], found[ktp]) for ktp, tp in tps.items()}
        finally:
            await probe.stop()


def install(app: faust.App) -> None:
    """Make ``app``'s consumer class its transport's, with both mixins of this module first.

    Call after anything that replaces ``app.transport`` and before the consumer is created
    (``create_app`` does both). Idempotent.
    """
    transport = app.transport
    base = transport.Consumer
    if not issubclass(base, NoLossConsumer):
        # The transport's class attribute stays; this instance's consumer class changes
        # (faust declares it a ClassVar, hence the ignore).
        transport.Consumer = type(  # type: ignore[misc]
            f"NoLoss{base.__name__}",
            (NoLossConsumer, ChangelogEndConsumer, base),
            {"__module__": __name__},
        )
