"""Agent: validate inbound readings; forward good ones keyed by patient, dead-letter the rest.

Re-keying by the *validated* patient id guarantees co-partitioning for the state tables even
when a gateway sends the wrong key or none.
"""

from __future__ import annotations

import logging

import faust

from agents.app import app, observations_topic, readings_topic
from agents.contract import ContractError, parse_observation
from agents.deadletter import dead_letter
from agents.streaming import manual_ack

log = logging.getLogger(__name__)


@app.agent(readings_topic)
async def validate_readings(stream: faust.StreamT[bytes]) -> None:
    """Validate each reading; acknowledge it only once its output is on the broker."""
    manual = manual_ack(stream)
    async for event in manual.events():
        raw = event.value if isinstance(event.value, bytes) else b""
        try:
            observation = parse_observation(raw)
        except ContractError as error:
            await dead_letter(event, error)
        else:
            await observations_topic.send(
                key=observation.patient_id.encode(), value=observation.model_dump_json().encode()
            )
        await manual.ack(event)
