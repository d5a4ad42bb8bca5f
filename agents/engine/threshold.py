"""A rule's threshold as other components draw it, and the single-reading pulse check.

:data:`PULSE_HIGH` is the ``pulse_high`` rule of the default rules file seen as a plain
threshold (vital, direction, threshold, hysteresis, unit, priority), so the Grafana threshold
line is drawn exactly where the pager fires, read from the same file.

:func:`evaluate_thresholds` applies such thresholds to one observation at a time with no
persistence and no patient state beyond the active alerts. It is kept for the storage and
dashboard tests that build alert points from readings; the pipeline itself uses
:func:`agents.engine.evaluate`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from agents.engine.lifecycle import ALERT_NAMESPACE, transition_id_for
from agents.engine.loader import default_rules
from agents.engine.rules import (
    MEASURE_UNITS,
    Op,
    RuleSet,
    ThresholdRule,
    compare,
    is_upward,
    relaxed,
)
from schemas import Alert, AlertEvidence, Priority, VitalSignsObservation


@dataclass(frozen=True)
class ThresholdView:
    """One threshold rule as a line on a chart: fires past ``threshold``, resolves past
    ``threshold`` minus (or plus) ``hysteresis``."""

    rule_id: str
    vital: str
    unit: str
    direction: Literal["above", "below"]
    threshold: float
    hysteresis: float
    priority: Priority
    source: str
    summary: str
    op: Op = ">="

    def crossed(self, value: float) -> bool:
        """Whether ``value`` is past the threshold (by the rule's own comparison)."""
        return compare(value, self.op, self.threshold)

    def recovered(self, value: float) -> bool:
        """Whether ``value`` is back inside the threshold by at least the hysteresis."""
        if self.direction == "above":
            return value < self.threshold - self.hysteresis
        return value > self.threshold + self.hysteresis


_NAMES = {
    "heart_rate": "Pulse",
    "systolic_bp": "Systolic",
    "diastolic_bp": "Diastolic",
    "temperature": "Temperature",
    "spo2": "SpO2",
    "respiratory_rate": "Respiratory rate",
}
_OP_WORDS = {">": "above", ">=": "at or above", "<": "below", "<=": "at or below"}
_UNIT_TEXT = {"/min": "/min", "mm[Hg]": " mmHg", "Cel": " Cel", "%": "%"}


def threshold_view(rules: RuleSet, rule_id: str) -> ThresholdView:
    """The threshold rule ``rule_id`` of ``rules`` as a :class:`ThresholdView`.

    Raises:
        KeyError: no such rule.
        TypeError: the rule is not a threshold rule on a vital sign.
    """
    rule = rules.rule(rule_id)
    if not isinstance(rule, ThresholdRule) or rule.measure in ("news2", "ciwa_b"):
        raise TypeError(f"rule {rule_id!r} is not a threshold rule on a vital sign")
    resolve_at = relaxed(rule.op, rule.threshold, rule.hysteresis)
    return ThresholdView(
        rule_id=rule.id,
        vital=rule.measure,
        unit=MEASURE_UNITS[rule.measure],
        direction="above" if is_upward(rule.op) else "below",
        threshold=rule.threshold,
        hysteresis=abs(rule.threshold - resolve_at),
        priority=rule.priority,
        source=rules.source_text(rule.source),
        summary=f"{_NAMES[rule.measure]} {_OP_WORDS[rule.op]} {rule.threshold:g}"
        f"{_UNIT_TEXT[MEASURE_UNITS[rule.measure]]}",
        op=rule.op,
    )


#: The default ``pulse_high`` rule (CAMH [R21]; NEWS2 [R1]): 120/min, medium, resolves below
#: 110/min. Read from ``deploy/rules/default.rules.yaml``.
PULSE_HIGH = threshold_view(default_rules(), "pulse_high")

#: Rules :func:`evaluate_thresholds` applies by default.
DEFAULT_RULES: tuple[ThresholdView, ...] = (PULSE_HIGH,)


class ActiveAlert(BaseModel):
    """What :func:`evaluate_thresholds` keeps of an alert that is firing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alert_id: uuid.UUID
    fired_at: AwareDatetime


def _transition(
    rule: ThresholdView,
    observation: VitalSignsObservation,
    *,
    alert_id: uuid.UUID,
    state: Literal["firing", "resolved"],
    value: float,
) -> Alert:
    sequence = 0 if state == "firing" else 1
    return Alert(
        alert_id=alert_id,
        transition_id=transition_id_for(alert_id, sequence),
        sequence=sequence,
        patient_id=observation.patient_id,
        ward=observation.ward,
        rule_id=rule.rule_id,
        priority=rule.priority,
        state=state,
        at=observation.observed_at,
        summary=rule.summary if state == "firing" else f"Resolved: {rule.summary.lower()}",
        source=rule.source,
        evidence=AlertEvidence(
            measure=rule.vital,
            value=value,
            unit=rule.unit,
            threshold=rule.threshold,
            reading_event_id=observation.event_id,
            observed_at=observation.observed_at,
            values=observation.vitals(),
        ),
    )


def evaluate_thresholds(
    active: dict[str, ActiveAlert],
    observation: VitalSignsObservation,
    rules: tuple[ThresholdView, ...] = DEFAULT_RULES,
) -> tuple[dict[str, ActiveAlert], list[Alert]]:
    """Apply ``rules`` to one observation: fire on crossing, resolve past the hysteresis.

    Args:
        active: active alerts by rule id (not modified).
        observation: the reading, already validated.
        rules: the thresholds to apply. Defaults to :data:`DEFAULT_RULES`.

    Returns:
        The new active alerts by rule id, and the transitions.
    """
    updated = dict(active)
    transitions: list[Alert] = []
    vitals = observation.vitals()
    for rule in rules:
        value = vitals.get(rule.vital)
        if value is None:
            continue
        current = updated.get(rule.rule_id)
        if current is None and rule.crossed(value):
            alert_id = uuid.uuid5(
                ALERT_NAMESPACE, f"{observation.patient_id}:{rule.rule_id}:{observation.event_id}"
            )
            updated[rule.rule_id] = ActiveAlert(alert_id=alert_id, fired_at=observation.observed_at)
            transitions.append(
                _transition(rule, observation, alert_id=alert_id, state="firing", value=value)
            )
        elif current is not None and rule.recovered(value):
            del updated[rule.rule_id]
            transitions.append(
                _transition(
                    rule, observation, alert_id=current.alert_id, state="resolved", value=value
                )
            )
    return updated, transitions
