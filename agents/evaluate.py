"""Agent and timer: the rule engine over the observations and acknowledgements topics.

``evaluate_events`` consumes both topics (keyed by patient, co-partitioned with the
patient-state table), runs :func:`agents.engine.evaluate` on event time, publishes every alert
transition to the alerts topic and a snapshot to the snapshots topic (key: patient id), then
writes the new state and acknowledges the event. Transitions are awaited until the broker has
them before the state is written: a crash in between re-evaluates the event on the old state
and repeats the same deterministic ids (the pager drops repeats), never losing a page.

Events are taken in batches (up to :data:`BATCH_MAX_EVENTS`, or what arrived within
:data:`BATCH_WITHIN_S`) so that a batch's sends are awaited together rather than one broker
round trip per alert. Within a batch each event is evaluated on the state its predecessors
left (held aside, not yet written); only once every transition of the batch is on the broker
are the states written and the events acknowledged, so the guarantee above holds per batch.
A failing event is dead-lettered on its own and the rest of the batch goes on.

``tick_patients`` runs every :data:`TICK_INTERVAL_S` seconds and lets time pass for every
patient held by this worker (data gaps, re-notification, escalation). Its ``now`` is the
patient's event-time clock advanced by the wall-clock time since that patient's last event was
processed::

    now = last_event_time + (wall_now - processed_at_wall)

So a backlog replayed at full speed (hours of events in seconds) never looks like silence:
each event resets both terms, and between them only real seconds pass. And a patient whose
device really went quiet ages at wall-clock speed from their last event, as on the ward.

A patient's clock is also never behind the worker's event-time watermark (the latest event
time this worker has evaluated, capped at the wall clock): when the ward's other devices
report hours later in event time, a patient whose device went quiet is hours quiet too, even
if those hours passed in seconds (an accelerated replay, the demo). In real-time operation
the watermark is the wall clock and changes nothing; ``detoxmon replay`` ticks every patient
to the last event's time for the same reason.
Partitions still catching up on a backlog (the broker's high-water mark ahead of what this
worker has processed, or freshly assigned and not yet fetched) are not ticked until they
have caught up or :data:`CATCH_UP_GRACE_S` has passed.

The rules file (``DETOXMON_RULES_FILE``) is loaded when the agent starts; if it is invalid
the worker stops with the file, line and rule in the log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import faust
from faust.types import TP, EventT, RecordMetadata
from pydantic import ValidationError

from agents import patient_state
from agents.app import alerts_topic, app, settings
from agents.contract import ContractError, describe, parse_accepted
from agents.deadletter import dead_letter
from agents.engine import (
    EngineEvent,
    PatientState,
    RuleSet,
    RulesFileError,
    evaluate,
    event_time,
    load_rules,
    tick,
)
from agents.streaming import event_batches
from schemas import Alert, AlertAcknowledgement
from streams import topics

log = logging.getLogger(__name__)

#: Seconds between ticks of every local patient.
TICK_INTERVAL_S = 15.0
#: Most events evaluated before their sends are awaited together.
BATCH_MAX_EVENTS = 500
#: Longest a batch waits to fill (seconds): a bound on the latency batching adds.
BATCH_WITHIN_S = 0.01
#: A partition with no progress information is ticked after this long (seconds).
CATCH_UP_GRACE_S = 2 * TICK_INTERVAL_S


def _raw_topic(*names: str) -> faust.TopicT:
    return app.topic(
        *names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )


#: Everything the engine evaluates, keyed by patient id.
engine_input_topic = _raw_topic(topics.OBSERVATIONS, topics.ACKS)
snapshots_topic = _raw_topic(topics.SNAPSHOTS)


class _Runtime:
    """Per-worker bookkeeping (not state: nothing here needs to survive a restart)."""

    def __init__(self) -> None:
        self.rules: RuleSet | None = None
        self.lock = asyncio.Lock()
        self.next_offset: dict[TP, int] = {}
        self.first_assigned: dict[int, float] = {}
        #: Latest event time evaluated by this worker (see the module docstring).
        self.watermark: datetime | None = None

    def saw(self, moment: datetime) -> None:
        if self.watermark is None or moment > self.watermark:
            self.watermark = moment

    def load_rules(self) -> RuleSet:
        if self.rules is None:
            self.rules = load_rules(settings.rules_file)
            log.info("rules loaded file=%s rules=%d", settings.rules_file, len(self.rules.rules))
        return self.rules


runtime = _Runtime()


def _parse(topic: str, raw: bytes) -> EngineEvent:
    if topic == topics.ACKS:
        try:
            return AlertAcknowledgement.model_validate_json(raw)
        except ValidationError as exc:
            raise ContractError("schema_violation", describe(exc)) from exc
    return parse_accepted(raw)


def _log_transition(alert: Alert) -> None:
    log.info(
        "alert %s rule=%s patient=%s priority=%s level=%d",
        alert.state,
        alert.rule_id,
        alert.patient_id,
        alert.priority,
        alert.escalation_level,
    )


async def _send_transitions(transitions: Iterable[Alert]) -> list[Awaitable[RecordMetadata]]:
    """Hand transitions to the producer; the broker's acknowledgements are returned to await."""
    sent = []
    for alert in transitions:
        _log_transition(alert)
        sent.append(
            await alerts_topic.send(
                key=alert.patient_id.encode(), value=alert.model_dump_json().encode()
            )
        )
    return sent


async def _publish(transitions: Iterable[Alert]) -> None:
    """Send transitions and wait until the broker has each."""
    await asyncio.gather(*await _send_transitions(transitions))


@dataclass
class _Evaluated:
    """A patient's state after the events of a batch so far, not yet written."""

    state: PatientState
    partition: int


async def _evaluate_batch(events: Sequence[EventT[bytes]], rules: RuleSet) -> None:
    """Evaluate ``events`` in order, send what they produce, wait for the broker to have the
    transitions, then write the states (the caller then acknowledges the events)."""
    async with runtime.lock:
        evaluated: dict[str, _Evaluated] = {}
        transitions_sent: list[Awaitable[RecordMetadata]] = []
        for event in events:
            message = event.message
            raw = event.value if isinstance(event.value, bytes) else b""
            try:
                item = _parse(message.topic, raw)
            except ContractError as error:
                await dead_letter(event, error)
                continue
            patient_id = item.patient_id
            runtime.saw(event_time(item))
            held = evaluated.get(patient_id)
            state = held.state if held is not None else patient_state.state_of(patient_id)
            try:
                result = evaluate(state, item, rules, now=event_time(item))
            except Exception as exc:  # a bug must not stop monitoring of every other patient
                log.exception("engine failed patient=%s kind=%s", patient_id, item.kind)
                await dead_letter(event, ContractError("engine_error", type(exc).__name__))
                continue
            if result.changed:
                transitions_sent += await _send_transitions(result.transitions)
                await snapshots_topic.send(
                    key=patient_id.encode(), value=result.snapshot.model_dump_json().encode()
                )
                evaluated[patient_id] = _Evaluated(result.state, message.partition)
        await asyncio.gather(*transitions_sent)
        processed_at = time.time()
        for patient_id, done in evaluated.items():
            patient_state.store(
                patient_id, done.state, processed_at=processed_at, partition=done.partition
            )
    for event in events:
        runtime.next_offset[event.message.tp] = event.message.offset + 1


@app.agent(engine_input_topic)
async def evaluate_events(stream: faust.StreamT[bytes]) -> None:
    """Evaluate every observation and acknowledgement; acknowledge each once published."""
    try:
        rules = runtime.load_rules()
    except RulesFileError as exc:
        log.critical("invalid rules file, stopping the worker:\n%s", exc)
        await app.crash(exc)
        return
    ack = cast(faust.Stream[bytes], stream).ack
    async for events in event_batches(stream, BATCH_MAX_EVENTS, BATCH_WITHIN_S):
        await _evaluate_batch(events, rules)
        for event in events:
            await ack(event)


def _caught_up(tp: TP, assigned_for_s: float) -> bool:
    highwater = app.consumer.highwater(tp)
    done = runtime.next_offset.get(tp)
    if highwater is not None and (done is not None or highwater == 0):
        return (done or 0) >= highwater
    return assigned_for_s >= CATCH_UP_GRACE_S


def ready_partitions(wall: float) -> set[int]:
    """Partitions assigned here whose observations and acknowledgements are caught up."""
    by_partition: dict[int, list[TP]] = {}
    for tp in app.consumer.assignment():
        if tp.topic in (topics.OBSERVATIONS, topics.ACKS):
            by_partition.setdefault(tp.partition, []).append(tp)
    for partition in set(runtime.first_assigned) - set(by_partition):
        del runtime.first_assigned[partition]
    ready = set()
    for partition, tps in by_partition.items():
        since = runtime.first_assigned.setdefault(partition, wall)
        if all(_caught_up(tp, wall - since) for tp in tps):
            ready.add(partition)
    return ready


def timer_now(
    last_event_at: datetime,
    processed_at: float,
    wall_now: float,
    watermark: datetime | None = None,
) -> datetime:
    """A patient's event-time clock for a tick: their last event's time plus the wall-clock
    seconds since it was processed (never less than the last event's time), or the worker's
    watermark capped at the wall clock, whichever is later."""
    aged = last_event_at + timedelta(seconds=max(0.0, wall_now - processed_at))
    if watermark is None:
        return aged
    return max(aged, min(watermark, datetime.fromtimestamp(wall_now, UTC)))


async def _tick_one(patient_id: str, rules: RuleSet) -> None:
    async with runtime.lock:
        stored = patient_state.load(patient_id)
        if stored is None or stored.state.last_event_at is None:
            return
        now = timer_now(
            stored.state.last_event_at, stored.processed_at, time.time(), runtime.watermark
        )
        result = tick(stored.state, rules, now=now)
        if not result.changed:
            return
        await _publish(result.transitions)
        patient_state.store(
            patient_id, result.state, processed_at=stored.processed_at, partition=stored.partition
        )


@app.timer(interval=TICK_INTERVAL_S)  # type: ignore[untyped-decorator]
async def tick_patients() -> None:
    """Let event time pass for every patient held here (see the module docstring)."""
    if runtime.rules is None:
        return  # the agent loads the rules (or stops the worker) when it starts
    partitions = ready_partitions(time.time())
    for patient_id in patient_state.local_patient_ids(partitions):
        try:
            await _tick_one(patient_id, runtime.rules)
        except Exception:  # one patient's failure must not stop the others' timers
            log.exception("tick failed patient=%s", patient_id)
