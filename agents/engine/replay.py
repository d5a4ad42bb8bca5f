"""Replaying recorded events through the engine, without Kafka: the same code, on event time.

Input is JSON lines in the inbound contract (any event kind, plus ``alert_ack`` lines), in
the order they arrived. Each event is evaluated for its patient (the engine ticks up to it
first); at the end every patient is ticked to ``until`` (default: the last event's time), as
the live timer would have done by then.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from agents.engine.evaluation import EngineEvent, evaluate, event_time, tick
from agents.engine.rules import RuleSet
from agents.engine.state import PatientState, new_state
from schemas.acks import AlertAcknowledgement
from schemas.alerts import Alert
from schemas.events import INBOUND_EVENT


class ReplayInputError(ValueError):
    """A line of the events file is not an event of the contract."""

    def __init__(self, path: Path | str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line, self.message = path, line, message


def parse_event_line(text: str) -> EngineEvent:
    """One JSON line as an inbound event or an acknowledgement.

    Raises:
        ValueError: not JSON, not an object, or not valid against the contract.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    try:
        if data.get("kind") == "alert_ack":
            return AlertAcknowledgement.model_validate(data)
        return INBOUND_EVENT.validate_python(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        location = list(first["loc"])
        if location and location[0] == data.get("kind"):
            location = location[1:]  # the union's tag, not a field
        where = ".".join(str(part) for part in location) or "(event)"
        raise ValueError(f"{where}: {first['msg']}") from exc


def read_events(path: Path) -> Iterator[EngineEvent]:
    """The events of a JSON-lines file, blank lines skipped.

    Raises:
        ReplayInputError: a line is not an event; names the file and line.
    """
    with path.open(encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                yield parse_event_line(text)
            except ValueError as exc:
                raise ReplayInputError(path, number, str(exc)) from None


@dataclass
class ReplayResult:
    """Every transition in order, the final states, and the span of each patient's events."""

    transitions: list[Alert] = field(default_factory=list)
    states: dict[str, PatientState] = field(default_factory=dict)
    spans: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    events: int = 0


def replay(
    events: Iterable[EngineEvent], rules: RuleSet, *, until: datetime | None = None
) -> ReplayResult:
    """Run ``events`` through the engine in order, then tick every patient to ``until``."""
    result = ResultBuilder(rules)
    for event in events:
        result.add(event)
    result.finish(until)
    return result.result


class ResultBuilder:
    """Incremental replay, for callers that feed events one at a time."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.result = ReplayResult()
        self._last: datetime | None = None

    def add(self, event: EngineEvent) -> list[Alert]:
        """Evaluate one event; returns its transitions."""
        result = self.result
        patient = event.patient_id
        state = result.states.get(patient) or new_state(patient)
        moment = event_time(event)
        evaluation = evaluate(state, event, self.rules, now=moment)
        result.states[patient] = evaluation.state
        result.transitions.extend(evaluation.transitions)
        result.events += 1
        first, last = result.spans.get(patient, (moment, moment))
        result.spans[patient] = (min(first, moment), max(last, moment))
        self._last = moment if self._last is None else max(self._last, moment)
        return list(evaluation.transitions)

    def finish(self, until: datetime | None = None) -> list[Alert]:
        """Tick every patient to ``until`` (default: the latest event time seen)."""
        end = until or self._last
        produced: list[Alert] = []
        if end is None:
            return produced
        for patient in sorted(self.result.states):
            evaluation = tick(self.result.states[patient], self.rules, now=end)
            self.result.states[patient] = evaluation.state
            produced.extend(evaluation.transitions)
        self.result.transitions.extend(produced)
        return produced


@dataclass(frozen=True)
class SummaryRow:
    """Alerts raised by one rule at one priority, and their rate."""

    rule_id: str
    priority: str
    alerts: int
    per_patient_day: float


def summarise(result: ReplayResult) -> tuple[float, list[SummaryRow]]:
    """Patient-days observed and alerts raised per patient-day by rule and priority.

    An alert counts once, at the priority it was first notified with; a patient's days run
    from their first to their last event (at least one hour, so a single event is not a
    division by zero).
    """
    days = sum(
        max((last - first).total_seconds(), 3600.0) / 86400 for first, last in result.spans.values()
    )
    counts: Counter[tuple[str, str]] = Counter()
    counted: set[object] = set()
    for alert in result.transitions:
        if alert.alert_id in counted:
            continue
        counted.add(alert.alert_id)
        counts[(alert.rule_id, alert.priority)] += 1
    rows = [
        SummaryRow(rule, priority, count, count / days if days else 0.0)
        for (rule, priority), count in sorted(counts.items())
    ]
    return days, rows


def transitions_by_patient(transitions: Iterable[Alert]) -> dict[str, list[Alert]]:
    """Transitions grouped by patient, each list in order."""
    grouped: dict[str, list[Alert]] = defaultdict(list)
    for alert in transitions:
        grouped[alert.patient_id].append(alert)
    return dict(grouped)
