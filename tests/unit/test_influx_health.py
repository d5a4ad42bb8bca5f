"""The heartbeat's arithmetic: consumer lag per partition, topic counters, latency per interval.

The Faust consumer is replaced by a small stand-in with the same methods, since only the
arithmetic is under test here; tests/integration/test_influx_schema.py and
test_influx_outage.py read the real worker's heartbeats.
"""

from __future__ import annotations

import os
import socket
from collections import Counter
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from agents.health import consumer_lag, messages_in, snapshot, worker_id
from agents.influx.metrics import SinkMetrics

OBS = "detoxmon.observations.v1"
CHANGELOG = "detoxmon-active-alerts-changelog"


class Consumer:
    def __init__(self, assigned: set[TP], ends: dict[TP, int], positions: dict[TP, int]) -> None:
        self.assigned = assigned
        self.ends = ends
        self.positions = positions
        self.asked_position: list[TP] = []

    def assignment(self) -> set[TP]:
        return self.assigned

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        return {tp: self.ends[tp] for tp in tps}

    async def position(self, tp: TP) -> int:
        self.asked_position.append(tp)
        return self.positions[tp]


def fake_app(consumer: Any, committed: dict[TP, int], read: dict[TP, int]) -> Any:
    return SimpleNamespace(
        consumer=consumer,
        tables=SimpleNamespace(changelog_topics={CHANGELOG}),
        monitor=SimpleNamespace(
            tp_committed_offsets=committed,
            tp_read_offsets=read,
            messages_received_by_topic=Counter({OBS: 40, CHANGELOG: 7}),
        ),
    )


async def test_lag_uses_committed_then_read_then_position_and_skips_changelogs() -> None:
    p0, p1, p2, p3, log0 = TP(OBS, 0), TP(OBS, 1), TP(OBS, 2), TP(OBS, 3), TP(CHANGELOG, 0)
    consumer = Consumer(
        assigned={p0, p1, p2, p3, log0},
        ends={p0: 100, p1: 50, p2: 30, p3: 0, log0: 999},
        positions={p2: 25},
    )
    app = fake_app(consumer, committed={p0: 90}, read={p1: 44})
    # p0: 100 - 90; p1: 50 - (44 + 1); p2: 30 - 25 (asked); p3 empty; changelog ignored
    assert await consumer_lag(app) == 10 + 5 + 5
    assert consumer.asked_position == [p2]


async def test_lag_is_unknown_rather_than_wrong_when_the_consumer_cannot_say() -> None:
    class Broken(Consumer):
        async def highwaters(self, *tps: TP) -> dict[TP, int]:
            raise RuntimeError("consumer not started")

    app = fake_app(Broken({TP(OBS, 0)}, {}, {}), committed={}, read={})
    assert await consumer_lag(app) is None


async def test_a_snapshot_reports_counters_and_takes_the_interval_latency() -> None:
    metrics = SinkMetrics()
    metrics.record(points=3, latencies_ms=[10.0, 30.0, 20.0])
    app = fake_app(Consumer(set(), {}, {}), committed={}, read={})
    first = await snapshot(app, metrics)
    assert first.points_written_total == 3
    assert (first.sink_latency_ms, first.sink_latency_max_ms) == (20.0, 30.0)
    assert first.consumer_lag == 0
    assert first.messages_in_total == {OBS: 40}
    assert messages_in(app) == {OBS: 40}
    second = await snapshot(app, metrics)
    assert second.sink_latency_ms is None  # nothing written since the last beat
    assert second.points_written_total == 3


def test_the_worker_is_named_after_host_and_process_by_default() -> None:
    assert worker_id() == f"{socket.gethostname()}-{os.getpid()}"
