"""Agent: validate inbound events; forward good ones keyed by patient, dead-letter the rest.

Re-keying by the *validated* patient id guarantees co-partitioning for the state tables even
when a gateway sends the wrong key or none. Offsets are committed only after the producer is
flushed (Faust's commit does that) and each event is acknowledged after its output is sent, so
a crash re-validates rather than loses.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import faust

from agents.app import app, observations_topic, readings_topic, settings
from agents.contract import ContractError, parse_event
from agents.deadletter import dead_letter
from agents.streaming import manual_ack

FUTURE_TOLERANCE = timedelta(seconds=settings.ingest.future_tolerance_s)
LATE_AFTER = timedelta(seconds=settings.ingest.late_after_s)


@app.agent(readings_topic)
async def validate_readings(stream: faust.StreamT[bytes]) -> None:
    """Validate each inbound event; acknowledge it only once its output is on its way."""
    manual = manual_ack(stream)
    async for event in manual.events():
        raw = event.value if isinstance(event.value, bytes) else b""
        try:
            accepted = parse_event(
                raw,
                received_at=datetime.now(UTC),
                future_tolerance=FUTURE_TOLERANCE,
                late_after=LATE_AFTER,
            )
        except ContractError as error:
            await dead_letter(event, error)
        else:
            await observations_topic.send(
                key=accepted.patient_id.encode(), value=accepted.model_dump_json().encode()
            )
        await manual.ack(event)
