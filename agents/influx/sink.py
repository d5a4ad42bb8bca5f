"""Agent: write observations and alerts to InfluxDB in batches, at least once, never dropping.

How nothing is lost:

- The agent reads with ``noack_take``: Faust yields a batch of events and does not acknowledge
  them. Only after the batch's points are written does the agent acknowledge each event, and
  Faust commits an offset only once every event before it is acknowledged. A crash or restart
  mid-batch therefore re-delivers the batch.
- A failed write is retried with exponential backoff and jitter (honouring Retry-After) for as
  long as it takes. While it retries, the agent consumes nothing more; Faust's stream buffer
  fills and the consumer pauses its partitions (backpressure) instead of dropping anything.
- Points carry event time, so a re-delivered event overwrites its own point (same
  measurement, tags and timestamp): writes are idempotent.
- Points InfluxDB refuses outright (HTTP 400) cannot succeed by retrying; they go to the
  dead-letter topic with InfluxDB's reason, so nothing disappears silently.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import cast

import faust
from pydantic import ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    wait_exponential_jitter,
)

from agents.app import app, dead_letter_topic, settings
from agents.contract import ContractError
from agents.deadletter import dead_letter
from agents.influx.points import alert_point, observation_point
from agents.influx.writer import InfluxWriteError, InfluxWriter, create_writer
from agents.streaming import event_batches
from schemas import Alert, DeadLetter, VitalSignsObservation
from streams import topics

log = logging.getLogger(__name__)

_backoff = wait_exponential_jitter(initial=0.5, max=30, jitter=0.5)


def _wait(state: RetryCallState) -> float:
    """Exponential backoff with jitter, or the server's Retry-After when it gave one."""
    exc = state.outcome.exception() if state.outcome is not None else None
    if isinstance(exc, InfluxWriteError) and exc.retry_after is not None:
        return max(exc.retry_after, 0.0)
    return float(_backoff(state))


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, InfluxWriteError) and exc.retryable


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome is not None else None
    log.warning("InfluxDB write failed (attempt %d), retrying: %s", state.attempt_number, exc)


def line_for(topic: str, value: bytes) -> str:
    """The line protocol for one message of the observations or alerts topic.

    Raises:
        ContractError: the message is not a valid alert or observation.
    """
    try:
        if topic == topics.ALERTS:
            return alert_point(Alert.model_validate_json(value))
        return observation_point(VitalSignsObservation.model_validate_json(value))
    except ValidationError as exc:
        raise ContractError("schema_violation", str(exc).splitlines()[0]) from exc


async def write_with_retry(writer: InfluxWriter, lines: Sequence[str]) -> None:
    """Write ``lines``, retrying retryable failures until they succeed."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(_is_retryable),
        wait=_wait,
        before_sleep=_log_retry,
        reraise=True,
    ):
        with attempt:
            await writer.write(lines)


async def _dead_letter_refused(lines: Sequence[str], error: InfluxWriteError) -> None:
    log.error("InfluxDB refused %d points: %s", len(lines), error)
    record = DeadLetter.of(
        "\n".join(lines).encode(),
        key=None,
        path="influxdb:write",
        reason="influx_refused",
        detail=str(error),
        received_at=datetime.now(UTC),
    )
    await dead_letter_topic.send(value=record.model_dump_json().encode())


@app.agent(
    app.topic(
        topics.OBSERVATIONS,
        topics.ALERTS,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
)
async def write_points(stream: faust.StreamT[bytes]) -> None:
    """Write each batch, then acknowledge its events."""
    writer = create_writer(settings.influx)
    try:
        async for events in event_batches(
            stream, settings.influx.batch_size, settings.influx.flush_interval_s
        ):
            lines: list[str] = []
            for event in events:
                try:
                    lines.append(line_for(event.message.topic, event.value))
                except ContractError as error:
                    await dead_letter(event, error)
            if lines:
                try:
                    await write_with_retry(writer, lines)
                except InfluxWriteError as error:
                    await _dead_letter_refused(lines, error)
            for event in events:
                await cast(faust.Stream[bytes], stream).ack(event)
    finally:
        await writer.close()
