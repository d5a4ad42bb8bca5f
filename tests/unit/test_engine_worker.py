"""The worker's side of the engine: the timer's clock and when a partition is ticked at all."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from faust.types import TP

import agents.evaluate as worker
from streams import topics

LAST_EVENT = datetime(2026, 1, 5, 8, tzinfo=UTC)


def test_the_timer_advances_the_event_clock_by_wall_time_since_the_last_event() -> None:
    assert worker.timer_now(LAST_EVENT, 1000.0, 1090.0) == LAST_EVENT + timedelta(seconds=90)


def test_a_backlog_replayed_fast_is_not_silence() -> None:
    # Hours of event time processed a second ago: the clock stands a second past the event.
    assert worker.timer_now(LAST_EVENT, 1000.0, 1001.0) == LAST_EVENT + timedelta(seconds=1)


def test_a_wall_clock_step_backwards_never_moves_the_clock_before_the_last_event() -> None:
    assert worker.timer_now(LAST_EVENT, 1000.0, 900.0) == LAST_EVENT


@dataclass
class FakeConsumer:
    assigned: set[TP]
    highwaters: dict[TP, int | None] = field(default_factory=dict)

    def assignment(self) -> set[TP]:
        return self.assigned

    def highwater(self, tp: TP) -> int | None:
        return self.highwaters.get(tp)


@dataclass
class FakeApp:
    consumer: FakeConsumer


def both(partition: int) -> list[TP]:
    return [TP(topics.OBSERVATIONS, partition), TP(topics.ACKS, partition)]


@pytest.fixture
def fresh_runtime(monkeypatch: pytest.MonkeyPatch) -> worker._Runtime:
    runtime = worker._Runtime()
    monkeypatch.setattr(worker, "runtime", runtime)
    return runtime


def test_a_partition_behind_its_high_water_mark_is_not_ticked(
    monkeypatch: pytest.MonkeyPatch, fresh_runtime: worker._Runtime
) -> None:
    observations, acks = both(0)
    consumer = FakeConsumer({observations, acks}, {observations: 50, acks: 0})
    monkeypatch.setattr(worker, "app", FakeApp(consumer))
    fresh_runtime.next_offset[observations] = 20
    assert worker.ready_partitions(100.0) == set()
    fresh_runtime.next_offset[observations] = 50
    assert worker.ready_partitions(101.0) == {0}


def test_a_partition_without_progress_information_waits_out_the_grace(
    monkeypatch: pytest.MonkeyPatch, fresh_runtime: worker._Runtime
) -> None:
    consumer = FakeConsumer(set(both(1)) | {TP(topics.ALERTS, 1)})
    monkeypatch.setattr(worker, "app", FakeApp(consumer))
    assert worker.ready_partitions(100.0) == set()
    assert worker.ready_partitions(100.0 + worker.CATCH_UP_GRACE_S) == {1}


def test_a_revoked_partition_is_forgotten(
    monkeypatch: pytest.MonkeyPatch, fresh_runtime: worker._Runtime
) -> None:
    consumer = FakeConsumer(set(both(2)))
    monkeypatch.setattr(worker, "app", FakeApp(consumer))
    worker.ready_partitions(100.0)
    consumer.assigned = set()
    assert worker.ready_partitions(200.0) == set()
    assert fresh_runtime.first_assigned == {}
