"""Single-vital threshold rules with hysteresis: fire once on crossing, resolve on recovery.

One alert per patient and rule: while it is active, further high readings raise nothing, so a
nurse gets one page, not one per reading. It resolves only when the value falls below the
resolve level (the threshold minus the hysteresis), so a pulse hovering at the threshold does
not page again and again.
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from schemas import Alert, AlertEvidence, Priority, VitalSignsObservation

#: Namespace for deterministic alert and transition ids (uuid5): a replay of the same
#: readings yields the same ids, which the pager uses to deduplicate.
ALERT_NAMESPACE = uuid.UUID("5b0a1f9e-6a43-4f2c-9d3e-0c1d2e3f4a5b")


class ThresholdRule(BaseModel):
    """Fire when ``vital`` is at or above (``direction='above'``) or at or below a threshold."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule_id: str
    vital: str
    unit: str
    direction: Literal["above", "below"]
    threshold: float
    hysteresis: float
    priority: Priority
    source: str
    summary: str

    def crossed(self, value: float) -> bool:
        """Whether ``value`` is past the threshold."""
        return value >= self.threshold if self.direction == "above" else value <= self.threshold

    def recovered(self, value: float) -> bool:
        """Whether ``value`` is back inside the threshold by at least the hysteresis."""
        if self.direction == "above":
            return value < self.threshold - self.hysteresis
        return value > self.threshold + self.hysteresis


class ActiveAlert(BaseModel):
    """What the patient state keeps of an alert that is firing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alert_id: uuid.UUID
    fired_at: AwareDatetime


#: Pulse at or above 120/min. Source: CAMH transfers on a persistent heart rate above 120
#: (clinical.md section 6, [R21]); NEWS2 scores 111-130 as 2 ([R1]). Priority medium
#: (prompt response) after IEC 60601-1-8; resolves below 110/min (NEWS2's 91-110 band).
PULSE_HIGH = ThresholdRule(
    rule_id="pulse_high",
    vital="heart_rate",
    unit="/min",
    direction="above",
    threshold=120,
    hysteresis=10,
    priority="medium",
    source="CAMH alcohol-withdrawal transfer criterion (HR > 120); NEWS2 (RCP 2017) pulse band",
    summary="Pulse at or above 120/min",
)

DEFAULT_RULES: tuple[ThresholdRule, ...] = (PULSE_HIGH,)


def _transition(
    rule: ThresholdRule,
    observation: VitalSignsObservation,
    *,
    alert_id: uuid.UUID,
    state: Literal["firing", "resolved"],
    value: float,
) -> Alert:
    sequence = 0 if state == "firing" else 1
    transition_id = uuid.uuid5(ALERT_NAMESPACE, f"{alert_id}:{sequence}:{state}")
    return Alert(
        alert_id=alert_id,
        transition_id=transition_id,
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
    rules: tuple[ThresholdRule, ...] = DEFAULT_RULES,
) -> tuple[dict[str, ActiveAlert], list[Alert]]:
    """Apply ``rules`` to one observation.

    Args:
        active: the patient's active alerts by rule id (not modified).
        observation: the reading, already validated.
        rules: the rules to apply. Defaults to :data:`DEFAULT_RULES`.

    Returns:
        The new active alerts by rule id, and the transitions to publish.
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
