"""Rule unit tests as data, in the manner of ``promtool test rules``.

A test file names a rules file (default: the default rules), a start time, and tests: input
events at offsets from the start, and the alert transitions expected (rule, state, priority,
offset). Events are written briefly; the runner fills in ids, the patient and the device::

    rule_file: ../../deploy/rules/default.rules.yaml
    start: 2026-01-05T08:00:00Z
    tests:
      - name: a spot-check pulse of 125 pages medium at once
        events:
          - {at: 0m, vitals: {heart_rate: 80}}
          - {at: 30m, vitals: {heart_rate: 125}}
          - {at: 40m, ack: pulse_high}
          - {at: 60m, vitals: {heart_rate: 100}}
        expect:
          - {rule: pulse_high, state: firing, priority: medium, at: 30m}
          - {rule: pulse_high, state: acknowledged, priority: medium, at: 40m}
          - {rule: pulse_high, state: resolved, priority: medium, at: 60m}

The expected list must equal the transitions produced, in order (only those of ``rules`` if
the test names some). A rule is covered when some test expects a transition of it; the runner
reports rules no test covers, as ``promtool`` does.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from yaml.nodes import Node

from agents.engine.errors import Problem, RuleTestFileError
from agents.engine.evaluation import EngineEvent, evaluate, event_time, tick
from agents.engine.loader import DEFAULT_RULES_FILE, load_rules
from agents.engine.rules import RuleId, RuleSet
from agents.engine.state import PatientState, new_state
from agents.engine.yamlfile import YamlSyntaxError, line_of, read_yaml
from schemas.acks import AlertAcknowledgement
from schemas.alerts import Alert, AlertState, Priority
from schemas.assessments import CheckIn, CiwaBAssessment
from schemas.clinical_events import ClinicalEvent
from schemas.doses import DoseAdministration
from schemas.enrolment import Discharge, Enrolment
from schemas.events import InboundEvent
from schemas.vitals import VitalSignsObservation

_OFFSET = re.compile(r"^(-)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
Offset = Annotated[str, StringConstraints(pattern=_OFFSET.pattern, min_length=2)]

#: Namespace of the ids the runner makes up for test events.
TEST_NAMESPACE = uuid.UUID("0b5e7d3c-1f6a-4e8b-9c2d-3a4b5c6d7e8f")

DEFAULT_START = "2026-01-05T08:00:00Z"

_KINDS = ("enrolment", "vitals", "ciwa_b", "dose", "clinical_event", "check_in", "discharge", "ack")


def parse_offset(text: str) -> timedelta:
    """``'1h30m'``, ``'-30h'``, ``'90s'``, ``'2d'`` as a timedelta."""
    match = _OFFSET.match(text)
    if match is None or text in ("", "-"):
        raise ValueError(f"not an offset: {text!r} (e.g. 15m, 2h30m, -36h, 1d)")
    sign, days, hours, minutes, seconds = match.groups()
    delta = timedelta(
        days=int(days or 0),
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=int(seconds or 0),
    )
    return -delta if sign else delta


def format_offset(delta: timedelta) -> str:
    """A timedelta as the shortest offset text (``'1h15m'``)."""
    sign = "-" if delta < timedelta(0) else ""
    total = int(abs(delta).total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [
        f"{days}d" if days else "",
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
    ]
    parts.append(f"{seconds}s" if seconds else "")
    text = "".join(parts)
    return sign + (text or "0m")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventSpec(_Strict):
    """One input event: ``at`` and exactly one kind with its fields."""

    at: Offset
    enrolment: dict[str, Any] | None = None
    vitals: dict[str, Any] | None = None
    ciwa_b: int | dict[str, Any] | None = None
    dose: dict[str, Any] | None = None
    clinical_event: dict[str, Any] | None = None
    check_in: dict[str, Any] | None = None
    discharge: str | dict[str, Any] | None = None
    ack: str | dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        given = [kind for kind in _KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(_KINDS)} (got {given or 'none'})")
        return self

    @property
    def kind(self) -> str:
        """Which kind of event this is."""
        return next(kind for kind in _KINDS if getattr(self, kind) is not None)


class Expected(_Strict):
    """One expected transition."""

    rule: RuleId
    state: AlertState
    priority: Priority
    at: Offset
    escalation_level: int | None = Field(default=None, ge=0, le=2)


class RuleTest(_Strict):
    """One test: events in, transitions expected."""

    name: str = Field(min_length=1)
    start: AwareDatetime | None = None
    patient_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{2,63}$")] = (
        "pt-test"
    )
    events: list[EventSpec] = Field(min_length=1)
    until: Offset | None = Field(default=None, description="Tick to here at the end.")
    rules: list[RuleId] = Field(default_factory=list, description="Compare only these rules.")
    expect: list[Expected] = Field(default_factory=list)


class RuleTestFile(_Strict):
    """A whole test file."""

    rule_file: str | None = Field(default=None, description="Relative to the test file.")
    start: AwareDatetime = Field(default=datetime.fromisoformat(DEFAULT_START))
    tests: list[RuleTest] = Field(min_length=1)


@dataclass(frozen=True)
class Outcome:
    """The result of one test."""

    file: Path
    name: str
    passed: bool
    detail: str = ""


@dataclass
class Report:
    """Results of a run, and per rules file the rules no test expects a transition of."""

    outcomes: list[Outcome] = field(default_factory=list)
    uncovered: dict[Path, list[str]] = field(default_factory=dict)

    @property
    def failed(self) -> list[Outcome]:
        """The tests that failed."""
        return [outcome for outcome in self.outcomes if not outcome.passed]


def _ciwa_items(total: int) -> dict[str, int]:
    names = list(CiwaBAssessment.model_fields["items"].annotation.model_fields)  # type: ignore[union-attr]
    items = {}
    remaining = total
    for name in names:
        items[name] = min(4, remaining)
        remaining -= items[name]
    if remaining:
        raise ValueError(f"a CIWA-B total of {total} is above the maximum of 80")
    return items


def _build(
    spec: EventSpec, *, test: RuleTest, start: datetime, event_id: uuid.UUID
) -> InboundEvent | None:
    """The contract event for a spec (None for an acknowledgement, built when it runs)."""
    at = start + parse_offset(spec.at)
    common: dict[str, Any] = {
        "event_id": str(event_id),
        "patient_id": test.patient_id,
        "device_id": "test-device",
        "source": "manual_entry",
        "observed_at": at.isoformat(),
    }
    kind = spec.kind
    if kind == "enrolment":
        body = dict(spec.enrolment or {})
        if "last_dose" in body:
            body["last_dose_at"] = (start + parse_offset(str(body.pop("last_dose")))).isoformat()
        body.setdefault("ward", "ward-test")
        body.setdefault("programme", "inpatient")
        return Enrolment.model_validate({**common, **body})
    if kind == "vitals":
        defaults = {**common, "device_id": "test-monitor", "source": "bedside_monitor"}
        return VitalSignsObservation.model_validate({**defaults, **(spec.vitals or {})})
    if kind == "ciwa_b":
        body = (
            {"items": _ciwa_items(spec.ciwa_b)}
            if isinstance(spec.ciwa_b, int)
            else dict(spec.ciwa_b or {})
        )
        return CiwaBAssessment.model_validate({**common, **body})
    if kind == "dose":
        return DoseAdministration.model_validate({**common, **(spec.dose or {})})
    if kind == "clinical_event":
        return ClinicalEvent.model_validate({**common, **(spec.clinical_event or {})})
    if kind == "check_in":
        defaults = {**common, "device_id": "test-app", "source": "telehealth_app"}
        return CheckIn.model_validate({**defaults, **(spec.check_in or {})})
    if kind == "discharge":
        reason = spec.discharge
        fields = {"reason": reason} if isinstance(reason, str) else dict(reason or {})
        return Discharge.model_validate({**common, **fields})
    return None


def _ack(
    spec: EventSpec, state: PatientState, at: datetime, ack_id: uuid.UUID
) -> AlertAcknowledgement:
    body = {"rule": spec.ack} if isinstance(spec.ack, str) else dict(spec.ack or {})
    rule_id = str(body.pop("rule", ""))
    record = state.alerts.get(rule_id)
    if record is None:
        raise LookupError(f"ack at {spec.at}: no active {rule_id!r} alert to acknowledge")
    return AlertAcknowledgement.model_validate(
        {
            "ack_id": str(ack_id),
            "alert_id": str(record.alert_id),
            "patient_id": state.patient_id,
            "by": body.pop("by", "rn-test"),
            "reason": body.pop("reason", "attending_patient"),
            "at": at.isoformat(),
            "via": "http",
            **body,
        }
    )


Row = tuple[str, str, str, str, int | None]


def _row(alert: Alert, start: datetime) -> Row:
    return (
        alert.rule_id,
        alert.state,
        alert.priority,
        format_offset(alert.at - start),
        alert.escalation_level,
    )


def _matches(actual: Row, expected: Row) -> bool:
    return actual[:4] == expected[:4] and (expected[4] is None or actual[4] == expected[4])


def _format(rows: Iterable[Row]) -> str:
    lines = [
        f"        {rule} {state} {priority} at {at}"
        + (f" (level {level})" if level is not None else "")
        for rule, state, priority, at, level in rows
    ]
    return "\n".join(lines) or "        (none)"


def run_test(
    test: RuleTest, rules: RuleSet, *, file: Path, default_start: datetime, index: int
) -> Outcome:
    """Run one test against ``rules``."""
    start = test.start or default_start
    state = new_state(test.patient_id)
    produced: list[Alert] = []
    last = start
    for position, spec in enumerate(test.events):
        event_id = uuid.uuid5(TEST_NAMESPACE, f"{file.name}:{index}:{position}")
        at = start + parse_offset(spec.at)
        built = _build(spec, test=test, start=start, event_id=event_id)
        event: EngineEvent
        if built is None:
            # The alert may be raised by time passing before the acknowledgement: look it up
            # in the state as the engine will see it (ticked to just before ``at``).
            probe = tick(state, rules, now=at - timedelta(microseconds=1)).state
            try:
                event = _ack(spec, probe, at, event_id)
            except LookupError as exc:
                return Outcome(file, test.name, False, f"    {exc}")
        else:
            event = built
        evaluation = evaluate(state, event, rules, now=event_time(event))
        state = evaluation.state
        produced.extend(evaluation.transitions)
        last = max(last, at)
    end = start + parse_offset(test.until) if test.until else last
    produced.extend(tick(state, rules, now=end).transitions)
    wanted = set(test.rules)
    actual = [_row(alert, start) for alert in produced if not wanted or alert.rule_id in wanted]
    expected: list[Row] = [
        (
            item.rule,
            item.state,
            item.priority,
            format_offset(parse_offset(item.at)),
            item.escalation_level,
        )
        for item in test.expect
    ]
    if len(actual) == len(expected) and all(map(_matches, actual, expected)):
        return Outcome(file, test.name, True)
    detail = f"    expected:\n{_format(expected)}\n    got:\n{_format(actual)}"
    return Outcome(file, test.name, False, detail)


def load_test_file(path: Path) -> tuple[RuleTestFile, Path]:
    """Read and validate a test file; returns it and the rules file it names.

    Raises:
        RuleTestFileError: not valid, with file and line; includes events that are not valid
            against the contract.
    """
    try:
        data, node = read_yaml(path)
    except YamlSyntaxError as exc:
        raise RuleTestFileError(
            path, [Problem(exc.line, f"not valid YAML: {exc.message}")]
        ) from None
    except OSError as exc:
        raise RuleTestFileError(path, [Problem(None, f"cannot read: {exc.strerror}")]) from None
    try:
        parsed = RuleTestFile.model_validate(data)
    except ValidationError as exc:
        raise RuleTestFileError(path, _problems(node, exc)) from None
    problems = list(_event_problems(parsed, node, path))
    if problems:
        raise RuleTestFileError(path, problems)
    rules_path = (
        (path.parent / parsed.rule_file).resolve() if parsed.rule_file else DEFAULT_RULES_FILE
    )
    return parsed, rules_path


def _problems(node: Node | None, error: ValidationError) -> list[Problem]:
    return [
        Problem(
            line=line_of(node, item["loc"]),
            message=item["msg"],
            location=".".join(str(part) for part in item["loc"]),
        )
        for item in error.errors(include_url=False, include_input=False, include_context=False)
    ]


def _event_problems(parsed: RuleTestFile, node: Node | None, path: Path) -> Iterable[Problem]:
    for index, test in enumerate(parsed.tests):
        start = test.start or parsed.start
        for position, spec in enumerate(test.events):
            location = ("tests", index, "events", position, spec.kind)
            try:
                _build(spec, test=test, start=start, event_id=uuid.uuid5(TEST_NAMESPACE, "check"))
            except (ValidationError, ValueError) as exc:
                message = (
                    "; ".join(
                        f"{'.'.join(str(p) for p in item['loc']) or spec.kind}: {item['msg']}"
                        for item in exc.errors(include_url=False, include_input=False)
                    )
                    if isinstance(exc, ValidationError)
                    else str(exc)
                )
                yield Problem(
                    line=line_of(node, location),
                    message=message,
                    location=f"tests[{index}] {test.name!r} events[{position}]",
                )


def run_files(paths: Iterable[Path]) -> Report:
    """Run every test of every file; report outcomes and uncovered rules per rules file.

    Raises:
        RuleTestFileError: a test file is invalid.
        RulesFileError: a rules file a test names is invalid.
    """
    report = Report()
    rule_sets: dict[Path, RuleSet] = {}
    covered: dict[Path, set[str]] = {}
    for path in paths:
        parsed, rules_path = load_test_file(path)
        if rules_path not in rule_sets:
            rule_sets[rules_path] = load_rules(rules_path)
            covered[rules_path] = set()
        rules = rule_sets[rules_path]
        for index, test in enumerate(parsed.tests):
            report.outcomes.append(
                run_test(test, rules, file=path, default_start=parsed.start, index=index)
            )
            covered[rules_path].update(item.rule for item in test.expect)
    for rules_path, rules in rule_sets.items():
        report.uncovered[rules_path] = [
            rule.id for rule in rules.rules if rule.id not in covered[rules_path]
        ]
    return report
