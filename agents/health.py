"""Heartbeat: every worker writes a ``pipeline_health`` point every N seconds.

The point (``docs/storage.md``) carries ``heartbeat`` = 1, the consumer lag, the sink latency
since the last beat and the points written, plus one point per consumed topic with the messages
received. It goes through the same writer and retry policy as the sinks, but a beat may be
skipped: its retries stop after half an interval and the failure is logged, never raised. A
missing heartbeat is the signal: Grafana's dead-man's switch alerts when a worker's last
``heartbeat`` is older than a few intervals, which is exactly what an InfluxDB outage, a hung
worker or a dead one look like from the dashboard. Retrying a stale beat for ever would only
delay the next, current one.

Interval: ``DETOXMON_INFLUX__HEARTBEAT_INTERVAL_S`` (10 s). Worker tag:
``DETOXMON_INFLUX__WORKER_ID``, or hostname-pid (a new series per process start, which is
bounded by restarts, not by traffic).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import UTC, datetime
from typing import Any

from tenacity import stop_before_delay

from agents.app import app, settings
from agents.influx.metrics import SINK_METRICS, SinkMetrics
from agents.influx.points import HealthSnapshot, health_points
from agents.influx.writer import InfluxUnavailable, InfluxWriteError, create_writer
from agents.retry import retrying

log = logging.getLogger(__name__)

INTERVAL_S = settings.influx.heartbeat_interval_s
#: Time one beat may take, retries included, so the next beat starts on time.
BUDGET_S = INTERVAL_S / 2


def worker_id() -> str:
    """The configured worker id, or hostname-pid."""
    return settings.influx.worker_id or f"{socket.gethostname()}-{os.getpid()}"


def _source_partitions(faust_app: Any) -> list[Any]:
    """Assigned partitions of the topics agents consume (not the tables' changelogs)."""
    changelogs = set(faust_app.tables.changelog_topics)
    return [tp for tp in faust_app.consumer.assignment() if tp.topic not in changelogs]


async def consumer_lag(faust_app: Any) -> int | None:
    """Messages behind the log end, summed over the worker's assigned partitions.

    Per partition: the end offset (one request to the broker for all of them) minus the last
    offset this worker committed; before its first commit there, the offset after the last
    one it read; failing both, the consumer's position (a call into the consumer's thread, so
    asked only for partitions that hold messages). None when the consumer is not running or
    the broker cannot say.
    """
    try:
        partitions = _source_partitions(faust_app)
        if not partitions:
            return 0
        ends = await faust_app.consumer.highwaters(*partitions)
        committed = faust_app.monitor.tp_committed_offsets
        read = faust_app.monitor.tp_read_offsets
        lag = 0
        for tp in partitions:
            end = ends.get(tp)
            if not end:
                continue  # empty partition, or unknown
            done = committed.get(tp)
            if done is None and tp in read:
                done = read[tp] + 1
            if done is None:
                done = await faust_app.consumer.position(tp)
            if done is not None:
                lag += max(int(end) - int(done), 0)
        return lag
    except Exception as exc:  # no consumer yet, rebalancing, broker away: lag unknown
        log.debug("consumer lag unknown: %r", exc)
        return None


def messages_in(faust_app: Any) -> dict[str, int]:
    """Messages received since start, by consumed topic."""
    changelogs = set(faust_app.tables.changelog_topics)
    counts = faust_app.monitor.messages_received_by_topic
    return {topic: int(n) for topic, n in counts.items() if topic not in changelogs}


async def snapshot(faust_app: Any, metrics: SinkMetrics = SINK_METRICS) -> HealthSnapshot:
    """What this worker reports now; takes (and resets) the interval's sink latency."""
    latency = metrics.take_latency()
    return HealthSnapshot(
        worker=worker_id(),
        at=datetime.now(UTC),
        points_written_total=metrics.points_written_total,
        consumer_lag=await consumer_lag(faust_app),
        sink_latency_ms=latency.mean_ms if latency else None,
        sink_latency_max_ms=latency.max_ms if latency else None,
        messages_in_total=messages_in(faust_app),
    )


async def write_heartbeat(lines: list[str]) -> bool:
    """Write one heartbeat within ``BUDGET_S``, retrying meanwhile; False if it was skipped."""
    writer = create_writer(settings.influx)
    try:
        async with asyncio.timeout(BUDGET_S):
            async for attempt in retrying(
                retryable=lambda exc: isinstance(exc, InfluxUnavailable),
                max_backoff_s=min(settings.influx.max_backoff_s, INTERVAL_S),
                stop=stop_before_delay(BUDGET_S),
                logger=log,
                what="heartbeat write",
            ):
                with attempt:
                    await writer.write(lines)
    except InfluxWriteError as error:
        log.warning("heartbeat skipped: %s", error)
        return False
    except TimeoutError:
        log.warning("heartbeat skipped: InfluxDB did not take it within %.1f s", BUDGET_S)
        return False
    finally:
        # A session per beat: one request every interval gains nothing from reuse, and nothing
        # is left open when the worker stops between beats.
        await writer.close()
    return True


# Faust declares ``App.timer`` with ``@no_type_check``, so the decorator is untyped.
@app.timer(interval=INTERVAL_S)  # type: ignore[untyped-decorator]
async def heartbeat() -> None:
    """Write this worker's ``pipeline_health`` points."""
    try:
        await write_heartbeat(health_points(await snapshot(app)))
    except Exception:  # a heartbeat must never stop the worker; a missing one is the alarm
        log.exception("heartbeat failed")
