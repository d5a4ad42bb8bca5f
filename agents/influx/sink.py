"""Agents: write observations, alerts and dead letters to InfluxDB in batches, at least once.

How nothing is lost:

- **Offsets follow writes.** Each agent reads with ``noack_take`` (via
  :func:`agents.streaming.event_batches`): Faust yields up to ``DETOXMON_INFLUX__BATCH_SIZE``
  events, or what arrived within ``__FLUSH_INTERVAL_S``, and does not acknowledge them. The agent
  acknowledges each event only after its point is written (or refused and dead-lettered, or it
  has no point), and Faust commits a partition's offset only up to the first unacknowledged
  event. A crash, a restart or a shutdown mid-batch therefore re-delivers the batch.
- **Outages are waited out.** A write that fails for a reason outside the batch (no answer,
  timeout, 5xx, 429, and 401/403/404 which an operator must fix) is retried for ever with the
  shared policy of :mod:`agents.retry`: exponential backoff with jitter up to
  ``DETOXMON_INFLUX__MAX_BACKOFF_S``, or the server's Retry-After.
- **Shutdown mid-retry acknowledges nothing.** Faust's graceful stop waits ("Wait for
  streams") until every event in flight is acknowledged or dropped. The sink polls the app's
  ``should_stop`` while it retries; once the worker is stopping it abandons the batch without
  acknowledging it and closes its batching generator, which drops the events, so the worker
  stops promptly and the offsets stay uncommitted: the next worker writes the batch. A
  cancellation (the hard way) is never retried or caught, with the same result.
- **A batch is never skipped while the worker runs.** Any other failure (a dead letter that
  cannot be sent while Kafka is away, say) resumes the batch where it failed, with the same
  backoff (no point written, dead letter sent or event acknowledged twice), and an encoder bug
  dead-letters its one event as ``unencodable``. Going on past an unacknowledged
  event would lose it: faust-streaming 0.15.3 commits past a single unacknowledged offset at
  the head of a partition as soon as a later one is acknowledged (``Consumer._new_offset``).
- **Backpressure instead of dropping.** While the agent waits, it takes nothing more: Faust's
  per-agent buffer (``stream_buffer_maxsize``) fills, the consumer pauses those partitions, and
  the events wait in Kafka. Nothing is held in memory beyond that buffer. The rule engine
  reads the same observations partitions, so an outage long enough to fill the buffer pauses
  it too; a storage worker in its own consumer group would keep alerting independent of
  InfluxDB.
- **Idempotent writes.** Points carry event time, so a re-delivered event overwrites its own
  point (same measurement, tags and timestamp).
- **Refused points are isolated and dead-lettered.** When InfluxDB refuses a request (400, 413,
  422), the valid points in it may already be written (InfluxDB writes them and reports a
  "partial write"), but the answer does not say which line failed. The batch is halved and each
  half written again until every refused line stands alone; rewriting accepted lines is
  harmless because writes are idempotent. Each refused line goes to the dead-letter topic as
  ``influx_refused`` with InfluxDB's reason (its quote of the line cut out), the line itself as
  the original bytes, and the source event's key, partition and offset. A message that does not
  parse is dead-lettered as any agent does (``schema_violation``, ``invalid_json``).

Events whose ``kind`` has no measurement yet (see :data:`agents.influx.points.POINTS_BY_KIND`)
are acknowledged without a point. The dead-letter agent never dead-letters: a ``deadletters``
point InfluxDB refuses is logged, and the dead letter itself stays on its topic.

A stop or rebalance does not wait for a batch being retried (``stream_wait_empty`` is off in
:mod:`agents.app`): its events stay unacknowledged and are redelivered, never acknowledged
unwritten.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import cast

import faust
from faust.types import EventT
from pydantic import ValidationError

from agents.app import app, dead_letter_topic, settings
from agents.contract import ContractError
from agents.deadletter import dead_letter
from agents.influx.event_points import snapshot_points
from agents.influx.metrics import SINK_METRICS, SinkMetrics
from agents.influx.points import (
    POINTS_BY_KIND,
    alert_point,
    dead_letter_record_point,
    deadletter_point,
)
from agents.influx.writer import (
    InfluxRefused,
    InfluxUnavailable,
    InfluxWriter,
    create_writer,
)
from agents.pager.audit import audit_point
from agents.retry import retrying
from agents.streaming import event_batches
from schemas import Alert, DeadLetter, PatientSnapshot
from schemas.pager_audit import PagerAudit
from streams import topics

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


def is_unavailable(exc: BaseException) -> bool:
    """Whether a failed write may succeed later unchanged."""
    return isinstance(exc, InfluxUnavailable)


class SinkStopped(Exception):
    """The worker is stopping: the batch in hand stays unwritten and unacknowledged."""


def _never() -> bool:
    return False


def stoppable(sleep: Sleep, should_stop: Callable[[], bool], *, tick_s: float = 0.25) -> Sleep:
    """``sleep`` in ticks that raises :class:`SinkStopped` as soon as ``should_stop()``."""
    if should_stop is _never:
        return sleep

    async def nap(seconds: float) -> None:
        remaining = seconds
        while True:
            if should_stop():
                raise SinkStopped("worker stopping")
            if remaining <= 0:
                return
            step = min(tick_s, remaining)
            await sleep(step)
            remaining -= step

    return nap


async def write_with_retry(
    writer: InfluxWriter,
    lines: Sequence[str],
    *,
    max_backoff_s: float,
    sleep: Sleep = asyncio.sleep,
    should_stop: Callable[[], bool] = _never,
) -> None:
    """Write ``lines``, retrying while InfluxDB is unavailable, until done or stopping.

    Raises:
        InfluxRefused: InfluxDB refused (some of) the points.
        SinkStopped: ``should_stop()`` turned true before the write succeeded.
    """
    try:
        async for attempt in retrying(
            retryable=is_unavailable,
            max_backoff_s=max_backoff_s,
            sleep=stoppable(sleep, should_stop),
            stop=lambda state: should_stop(),
            logger=log,
            what="InfluxDB write",
        ):
            with attempt:
                await writer.write(lines)
    except InfluxUnavailable as error:  # only when stopping: otherwise retried for ever
        raise SinkStopped("worker stopping") from error


@dataclass(frozen=True)
class Refusal:
    """A line InfluxDB refused on its own: its index in the batch and InfluxDB's reason."""

    index: int
    error: InfluxRefused


async def write_isolating(
    writer: InfluxWriter,
    lines: Sequence[str],
    *,
    max_backoff_s: float,
    sleep: Sleep = asyncio.sleep,
    should_stop: Callable[[], bool] = _never,
) -> list[Refusal]:
    """Write ``lines``; return exactly the lines InfluxDB refuses, found by halving the batch."""
    refused: list[Refusal] = []

    async def write_range(start: int, end: int) -> None:
        try:
            await write_with_retry(
                writer,
                lines[start:end],
                max_backoff_s=max_backoff_s,
                sleep=sleep,
                should_stop=should_stop,
            )
        except InfluxRefused as error:
            if end - start == 1:
                refused.append(Refusal(start, error))
                return
            middle = (start + end) // 2
            await write_range(start, middle)
            await write_range(middle, end)

    if lines:
        await write_range(0, len(lines))
    return refused


#: Line protocol for an event, or None if its kind has no measurement. Raises ContractError.
Encoder = Callable[[EventT[bytes]], str | None]
OnInvalid = Callable[[EventT[bytes], ContractError], Awaitable[None]]
OnRefused = Callable[[EventT[bytes], str, InfluxRefused], Awaitable[None]]
Ack = Callable[[EventT[bytes]], Awaitable[object]]


@dataclass
class _Batch:
    """One batch's progress, so that a repeat after a failure resumes instead of redoing.

    Redoing would send dead letters twice and, worse, acknowledge an event twice: Faust counts
    acknowledgements per message across agents, so a second one from this agent would stand
    in for the rule engine's and let the offset be committed before the engine is done.
    """

    events: Sequence[EventT[bytes]]
    encoded: list[tuple[EventT[bytes], str]] | None = None
    invalid: list[tuple[EventT[bytes], ContractError]] = field(default_factory=list)
    refusals: list[Refusal] | None = None
    dead_lettered: int = 0
    acked: int = 0


class BatchSink:
    """One batch at a time: encode, write (isolating refusals), dead-letter, then acknowledge.

    ``should_stop`` is polled while retrying: once it is true the batch is abandoned with
    :class:`SinkStopped`, unacknowledged, so the worker can stop (the agent uses the app's
    ``should_stop``, which turns true when the worker starts stopping).
    """

    def __init__(
        self,
        writer: InfluxWriter,
        *,
        encode: Encoder,
        ack: Ack,
        on_invalid: OnInvalid,
        on_refused: OnRefused,
        max_backoff_s: float,
        metrics: SinkMetrics = SINK_METRICS,
        clock: Callable[[], float] = time.time,
        sleep: Sleep = asyncio.sleep,
        should_stop: Callable[[], bool] = _never,
    ) -> None:
        self._writer = writer
        self._encode = encode
        self._ack = ack
        self._on_invalid = on_invalid
        self._on_refused = on_refused
        self._max_backoff_s = max_backoff_s
        self._metrics = metrics
        self._clock = clock
        self._sleep = sleep
        self._should_stop = should_stop

    def _encode_all(self, batch: _Batch) -> list[tuple[EventT[bytes], str]]:
        encoded: list[tuple[EventT[bytes], str]] = []
        for event in batch.events:
            try:
                line = self._encode(event)
            except ContractError as error:
                batch.invalid.append((event, error))
                continue
            except Exception as exc:  # an encoder bug must not stall every later event
                log.exception("cannot encode offset %s", event.message.offset)
                batch.invalid.append((event, ContractError("unencodable", type(exc).__name__)))
                continue
            if line is not None:
                encoded.append((event, line))
        return encoded

    async def _advance(self, batch: _Batch) -> None:
        if batch.encoded is None:
            batch.encoded = self._encode_all(batch)
        encoded = batch.encoded
        if batch.refusals is None:
            batch.refusals = await write_isolating(
                self._writer,
                [line for _, line in encoded],
                max_backoff_s=self._max_backoff_s,
                sleep=self._sleep,
                should_stop=self._should_stop,
            )
            written_at = self._clock()
            refused = {refusal.index for refusal in batch.refusals}
            self._metrics.record(
                points=len(encoded) - len(refused),
                latencies_ms=[
                    max(written_at - event.message.timestamp, 0.0) * 1000
                    for index, (event, _) in enumerate(encoded)
                    if index not in refused
                ],
            )
        letters: list[Callable[[], Awaitable[None]]] = [
            partial(self._on_refused, *encoded[refusal.index], refusal.error)
            for refusal in batch.refusals
        ]
        letters += [partial(self._on_invalid, event, error) for event, error in batch.invalid]
        while batch.dead_lettered < len(letters):
            await letters[batch.dead_lettered]()
            batch.dead_lettered += 1
        while batch.acked < len(batch.events):
            await self._ack(batch.events[batch.acked])
            batch.acked += 1

    async def process(self, events: Sequence[EventT[bytes]]) -> None:
        """Store ``events`` and acknowledge them; on cancellation or error, acknowledge none.

        Raises:
            SinkStopped: the worker is stopping; nothing was acknowledged.
        """
        await self._advance(_Batch(events))

    async def process_until_done(self, events: Sequence[EventT[bytes]]) -> None:
        """:meth:`process`, resumed with backoff after any other failure (a dead letter that
        cannot be sent while Kafka is away, say) until it succeeds or the worker stops.

        A batch is never given up while the worker runs: acknowledging later events past an
        unacknowledged one would let Faust commit past it (see the module docstring).

        Raises:
            SinkStopped: the worker is stopping; what is not acknowledged yet stays so.
        """
        batch = _Batch(events)
        try:
            async for attempt in retrying(
                retryable=lambda exc: not isinstance(exc, SinkStopped),
                max_backoff_s=self._max_backoff_s,
                sleep=stoppable(self._sleep, self._should_stop),
                stop=lambda state: self._should_stop(),
                logger=log,
                what="sink batch",
            ):
                with attempt:
                    await self._advance(batch)
        except SinkStopped:
            raise
        except Exception as error:  # only when stopping: otherwise retried for ever
            raise SinkStopped("worker stopping") from error


def line_for(topic: str, value: bytes) -> str | None:
    """The line(s) for one message of a stored topic (None: a kind with no measurement).

    Raises:
        ContractError: the message is not a valid alert or observation.
    """
    try:
        if topic == topics.ALERTS:
            return alert_point(Alert.model_validate_json(value))
        if topic == topics.SNAPSHOTS:
            return "\n".join(snapshot_points(PatientSnapshot.model_validate_json(value)))
        if topic == topics.PAGER_AUDIT:
            return audit_point(PagerAudit.model_validate_json(value))
        data = json.loads(value)
    except ValidationError as exc:
        raise ContractError("schema_violation", str(exc).splitlines()[0]) from exc
    except ValueError as exc:  # JSON or UTF-8
        raise ContractError("invalid_json", "not a JSON document") from exc
    if not isinstance(data, dict):
        raise ContractError("not_an_object", f"expected a JSON object, got {type(data).__name__}")
    encoder = POINTS_BY_KIND.get(str(data.get("kind", "vital_signs")))
    if encoder is None:
        return None
    try:
        return encoder(data)
    except ValidationError as exc:
        raise ContractError("schema_violation", str(exc).splitlines()[0]) from exc


def _event_line(event: EventT[bytes]) -> str | None:
    value = event.value if isinstance(event.value, bytes) else b""
    return line_for(event.message.topic, value)


def deadletter_line(event: EventT[bytes]) -> str:
    """The ``deadletters`` point of a record on the dead-letter topic.

    A record that is not a readable dead letter still counts, as reason
    ``unreadable_dead_letter`` at its Kafka timestamp: it must not vanish, and dead-lettering
    it again would loop.
    """
    message = event.message
    try:
        letter = DeadLetter.model_validate_json(event.value)
    except ValidationError:
        return deadletter_point(
            reason="unreadable_dead_letter",
            path=f"kafka:{message.topic}",
            received_at=datetime.fromtimestamp(message.timestamp, UTC),
            partition=message.partition,
            offset=message.offset,
        )
    return dead_letter_record_point(letter, partition=message.partition, offset=message.offset)


async def dead_letter_refused(event: EventT[bytes], line: str, error: InfluxRefused) -> None:
    """Send a line InfluxDB refused to the dead-letter topic, naming its source event."""
    message = event.message
    source = f"kafka:{message.topic} partition {message.partition} offset {message.offset}"
    log.error("InfluxDB refused the point of %s: %s", source, error)
    key = message.key if isinstance(message.key, bytes) else None
    record = DeadLetter.of(
        line.encode(),
        key=key,
        path="influxdb:write",
        reason="influx_refused",
        detail=f"{error} (source {source})",
        received_at=datetime.now(UTC),
        partition=message.partition,
        offset=message.offset,
    )
    await dead_letter_topic.send(key=key, value=record.model_dump_json().encode())


async def _log_refused_deadletter(event: EventT[bytes], line: str, error: InfluxRefused) -> None:
    message = event.message
    log.error(
        "InfluxDB refused the deadletters point of partition %s offset %s: %s",
        message.partition,
        message.offset,
        error,
    )


async def _log_invalid_deadletter(event: EventT[bytes], error: ContractError) -> None:
    log.error("unreadable dead letter at offset %s: %s", event.message.offset, error)


async def run_sink(
    stream: faust.StreamT[bytes], *, encode: Encoder, on_invalid: OnInvalid, on_refused: OnRefused
) -> None:
    """Drive a :class:`BatchSink` over ``stream`` with the worker's settings until it stops."""
    influx = settings.influx
    writer = create_writer(influx)
    sink = BatchSink(
        writer,
        encode=encode,
        ack=cast(faust.Stream[bytes], stream).ack,
        on_invalid=on_invalid,
        on_refused=on_refused,
        max_backoff_s=influx.max_backoff_s,
        should_stop=lambda: bool(app.should_stop),
    )
    batches = cast(
        AsyncGenerator[Sequence[EventT[bytes]], None],
        event_batches(stream, influx.batch_size, influx.flush_interval_s),
    )
    try:
        async for events in batches:
            try:
                await sink.process_until_done(events)
            except SinkStopped:
                log.warning(
                    "worker stopping: %d events left unwritten and unacknowledged; "
                    "Kafka redelivers them to the next worker",
                    len(events),
                )
                return
    finally:
        # Close the batching generator now: its cleanup drops the batch's events, which Faust
        # waits for before it stops (unacknowledged, so their offsets are not committed).
        await batches.aclose()
        await writer.close()


@app.agent(
    app.topic(
        topics.OBSERVATIONS,
        topics.ALERTS,
        topics.SNAPSHOTS,
        topics.PAGER_AUDIT,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
)
async def write_points(stream: faust.StreamT[bytes]) -> None:
    """Write inbound events, alert transitions, patient snapshots and pager audit records."""
    await run_sink(
        stream, encode=_event_line, on_invalid=dead_letter, on_refused=dead_letter_refused
    )


@app.agent(dead_letter_topic)
async def record_dead_letters(stream: faust.StreamT[bytes]) -> None:
    """Count every dead letter as a ``deadletters`` point."""
    await run_sink(
        stream,
        encode=deadletter_line,
        on_invalid=_log_invalid_deadletter,
        on_refused=_log_refused_deadletter,
    )
