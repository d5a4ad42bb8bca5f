"""Agent: apply the alert rules to each observation, keeping active alerts in a table.

Offsets are committed only after the producer is flushed (Faust's commit does that), and an
event is acknowledged only after its alerts are sent, so a crash re-evaluates rather than
loses. Alert and transition ids are deterministic, so a re-evaluation repeats ids, never pages.
"""

from __future__ import annotations

import logging

import faust

from agents.app import active_alerts_table, alerts_topic, app, observations_topic
from agents.contract import ContractError, parse_accepted
from agents.deadletter import dead_letter
from agents.engine import ActiveAlert, evaluate_thresholds
from agents.streaming import manual_ack
from schemas import VitalSignsObservation

log = logging.getLogger(__name__)


@app.agent(observations_topic)
async def evaluate_observations(stream: faust.StreamT[bytes]) -> None:
    """Evaluate every observation against the threshold rules."""
    manual = manual_ack(stream)
    async for event in manual.events():
        try:
            accepted = parse_accepted(event.value)
        except ContractError as error:  # only a producer bypassing validation gets here
            await dead_letter(event, error)
            await manual.ack(event)
            continue
        if not isinstance(accepted, VitalSignsObservation):
            await manual.ack(event)
            continue
        observation = accepted
        stored = active_alerts_table[observation.patient_id]
        active = {rule: ActiveAlert.model_validate(value) for rule, value in stored.items()}
        updated, transitions = evaluate_thresholds(active, observation)
        for alert in transitions:
            log.info(
                "alert %s rule=%s patient=%s priority=%s",
                alert.state,
                alert.rule_id,
                alert.patient_id,
                alert.priority,
            )
            await alerts_topic.send(
                key=alert.patient_id.encode(), value=alert.model_dump_json().encode()
            )
        if updated != active:
            active_alerts_table[observation.patient_id] = {
                rule: value.model_dump(mode="json") for rule, value in updated.items()
            }
        await manual.ack(event)
