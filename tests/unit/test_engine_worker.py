"""The worker's side of the engine: the timer's clock, when a partition is ticked at all, and
when a batch's states are written."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from faust.types import TP

import agents.evaluate as worker
from agents import patient_state
from agents.contract import ContractError
from agents.engine import default_rules
from agents.engine.docs import EXAMPLE_FILE
from agents.patient_state import DecodedStates
from streams import topics

LAST_EVENT = datetime(2026, 1, 5, 8, tzinfo=UTC)


def test_the_timer_advances_the_event_clock_by_wall_time_since_the_last_event() -> None:
    assert worker.timer_now(LAST_EVENT, 1000.0, 1090.0) == LAST_EVENT + timedelta(seconds=90)


def test_a_backlog_replayed_fast_is_not_silence() -> None:
    # Hours of event time processed a second ago: the clock stands a second past the event.
    assert worker.timer_now(LAST_EVENT, 1000.0, 1001.0) == LAST_EVENT + timedelta(seconds=1)


def test_a_wall_clock_step_backwards_never_moves_the_clock_before_the_last_event() -> None:
    assert worker.timer_now(LAST_EVENT, 1000.0, 900.0) == LAST_EVENT


def test_a_quiet_patient_keeps_up_with_the_wards_event_time() -> None:
    # Accelerated replay: the ward is 6 h on in event time, a second of wall time later.
    wall = (LAST_EVENT + timedelta(days=1)).timestamp()
    ward = LAST_EVENT + timedelta(hours=6)
    assert worker.timer_now(LAST_EVENT, wall - 1, wall, ward) == ward


def test_the_watermark_never_runs_ahead_of_the_wall_clock() -> None:
    # A gateway's clock a few minutes fast must not age every other patient early.
    wall = LAST_EVENT.timestamp() + 60
    ahead = LAST_EVENT + timedelta(minutes=5)
    assert worker.timer_now(LAST_EVENT, wall - 60, wall, ahead) == LAST_EVENT + timedelta(
        seconds=60
    )


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


@dataclass
class FakeMessage:
    topic: str
    partition: int
    offset: int

    @property
    def tp(self) -> TP:
        return TP(self.topic, self.partition)


@dataclass
class FakeEvent:
    message: FakeMessage
    value: bytes


@dataclass
class FakeTopic:
    """Records sends; the broker's acknowledgements are futures the test resolves."""

    sent: list[bytes] = field(default_factory=list)
    acks: list[asyncio.Future[None]] = field(default_factory=list)

    async def send(self, *, key: bytes, value: bytes) -> asyncio.Future[None]:
        self.sent.append(value)
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.acks.append(ack)
        return ack


def example_batch() -> list[FakeEvent]:
    """The worked example up to its first two firings, with an unreadable message inside."""
    lines = EXAMPLE_FILE.read_text().splitlines()[:37]
    raws = [line.encode() for line in lines[:20]] + [b"not json"] + [x.encode() for x in lines[20:]]
    return [
        FakeEvent(FakeMessage(topics.OBSERVATIONS, 1, offset), raw)
        for offset, raw in enumerate(raws)
    ]


async def test_a_batch_writes_its_states_only_once_the_broker_has_its_transitions(
    monkeypatch: pytest.MonkeyPatch, fresh_runtime: worker._Runtime
) -> None:
    alerts, snapshots = FakeTopic(), FakeTopic()
    dead: list[tuple[object, str]] = []

    async def dead_letter(event: object, error: ContractError) -> None:
        dead.append((event, error.reason))

    table: dict[bytes, Any] = {}
    monkeypatch.setattr(worker, "alerts_topic", alerts)
    monkeypatch.setattr(worker, "snapshots_topic", snapshots)
    monkeypatch.setattr(worker, "dead_letter", dead_letter)
    monkeypatch.setattr(patient_state, "decoded_states", DecodedStates(table))
    events = example_batch()

    task = asyncio.create_task(worker._evaluate_batch(events, default_rules()))  # type: ignore[arg-type]
    for _ in range(10):
        await asyncio.sleep(0)
    assert not task.done()
    assert [json.loads(a)["rule_id"] for a in alerts.sent] == [
        "pulse_elevated_peak",
        "systolic_above_baseline",
    ]
    assert len(snapshots.sent) == 37  # every readable event changed the state
    assert [reason for _, reason in dead] == ["schema_violation"]  # alone, the rest goes on
    assert table == {}  # nothing written while a transition is not on the broker

    for ack in alerts.acks:
        ack.set_result(None)
    await task
    stored = patient_state.load("pt-example01")
    assert stored is not None
    assert stored.state.alerts.keys() == {"pulse_elevated_peak", "systolic_above_baseline"}
    assert stored.partition == 1
    assert fresh_runtime.next_offset[TP(topics.OBSERVATIONS, 1)] == len(events)
