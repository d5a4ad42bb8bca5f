"""Judging inbound messages, whichever path they came by; and the Kafka path's agent.

Every path (Kafka, HTTP ``POST /ingest``, MLLP, a replay) calls :func:`ingest`, so a message is
judged the same way whichever way it came: converted by the format its content type names
(native JSON when none is given), each event checked against the sending gateway's scope and
stamped with its arrival (:func:`~agents.contract.accept`); accepted events go to the
observations topic and every rejected part to the dead-letter topic, with the whole original
bytes (:mod:`agents.ingest.dlq`).

Re-keying by the *validated* patient id guarantees co-partitioning for the state tables even
when a gateway sends the wrong key or none.

A message with any event outside its gateway's scope is refused whole: a gateway publishing
for a ward it was not given is misconfigured or compromised, and accepting the rest would hide
that. Kafka messages are scoped only when a ``detoxmon-gateway`` header names a gateway (a
replay of an HTTP or MLLP dead letter does): on Kafka the broker's ACLs decide who may write,
and the header can only narrow what is accepted.

The Kafka agent acknowledges an event only after its outputs are sent, and offsets are
committed only after the producer is flushed (Faust's commit does that), so a crash
re-validates rather than loses. HTTP and MLLP instead wait for the broker's acknowledgement
of every output before they answer (``durable=True``): their answer is the gateway's receipt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import faust
from faust.types import RecordMetadata

from agents.app import app, observations_topic, readings_topic, settings
from agents.contract import ContractError, accept
from agents.ingest.dlq import (
    CONTENT_TYPE_HEADER,
    GATEWAY_HEADER,
    REPLAY_OF_HEADER,
    Origin,
    header_value,
    send_dead_letter,
)
from agents.ingest.formats import Conversion, Format, Rejection, convert, format_for
from agents.ingest.gateways import GatewayRegistry, current_registry
from agents.streaming import manual_ack
from schemas import InboundEvent

log = logging.getLogger(__name__)

FUTURE_TOLERANCE = timedelta(seconds=settings.ingest.future_tolerance_s)
LATE_AFTER = timedelta(seconds=settings.ingest.late_after_s)
ACK_TIMEOUT_S = settings.ingest.ack_timeout_s

#: Reasons meaning the bytes could not be read in their format, or held nothing to read: the
#: message is unparseable (HTTP 400) rather than readable but against the contract (422).
UNREADABLE_REASONS = frozenset(
    {
        "not_utf8",
        "invalid_json",
        "not_an_object",
        "invalid_hl7",
        "multiple_messages",
        "unsupported_resource_type",
        "converter_error",
        "no_events",
        "no_observations",
        "empty_bundle",
    }
)
#: Reasons for which no converter could be applied at all.
UNSUPPORTED_REASONS = frozenset({"unsupported_media_type", "format_unavailable"})

#: Why nothing of a message was accepted: its scope, its media type, its form, its content.
Refusal = Literal["out_of_scope", "unsupported", "unreadable", "contract"]


@dataclass(frozen=True)
class Verdict:
    """What became of a message: events accepted (stamped) and parts rejected."""

    accepted: list[InboundEvent] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def refusal(self) -> Refusal | None:
        """Why nothing was accepted, or None when something was."""
        if self.accepted:
            return None
        reasons = {rejection.reason for rejection in self.rejections}
        if "out_of_scope" in reasons:
            return "out_of_scope"
        if reasons & UNSUPPORTED_REASONS:
            return "unsupported"
        if reasons <= UNREADABLE_REASONS:
            return "unreadable"
        return "contract"


def _where(event: InboundEvent) -> str:
    return f"event {event.event_id}"


def _convert(fmt: Format, raw: bytes) -> Conversion:
    """Convert, turning a converter's failure into a rejection: bad input never kills a path."""
    try:
        return convert(fmt, raw)
    except ImportError:
        return Conversion(
            rejections=[Rejection("format_unavailable", f"this worker cannot convert {fmt}")]
        )
    except Exception as exc:  # a converter bug must cost one message, not the pipeline
        # The exception's text may quote the message, so only its type is logged.
        log.error("converter failed format=%s error=%s", fmt, type(exc).__name__)
        return Conversion(
            rejections=[
                Rejection(
                    "converter_error",
                    f"the {fmt} converter failed on this message ({type(exc).__name__})",
                )
            ]
        )


def judge(
    raw: bytes, origin: Origin, *, received_at: datetime, registry: GatewayRegistry
) -> Verdict:
    """Convert, scope and stamp one message; pure apart from the converters' imports."""
    gateway = None
    if origin.gateway_id is not None:
        gateway = registry.get(origin.gateway_id)
        if gateway is None:
            detail = f"gateway {origin.gateway_id!r} is not in the gateway registry"
            return Verdict(rejections=[Rejection("unknown_gateway", detail)])
    try:
        fmt = format_for(origin.content_type)
    except ContractError as error:
        return Verdict(rejections=[Rejection.of(error)])
    conversion = _convert(fmt, raw)
    if not conversion.events and not conversion.rejections:
        return Verdict(rejections=[Rejection("no_events", f"the {fmt} message holds no event")])
    rejections = list(conversion.rejections)
    if gateway is not None:
        out_of_scope = [
            Rejection.of(refused, _where(event))
            for event in conversion.events
            if (refused := gateway.scope_error(event)) is not None
        ]
        if out_of_scope:
            return Verdict(rejections=rejections + out_of_scope)
    accepted = []
    for event in conversion.events:
        try:
            accepted.append(
                accept(
                    event,
                    received_at=received_at,
                    future_tolerance=FUTURE_TOLERANCE,
                    late_after=LATE_AFTER,
                )
            )
        except ContractError as error:
            rejections.append(Rejection.of(error, _where(event)))
    return Verdict(accepted=accepted, rejections=rejections)


async def ingest(raw: bytes, origin: Origin, *, durable: bool) -> Verdict:
    """Judge ``raw`` and produce its accepted events and its dead letters.

    With ``durable``, return only once the broker has acknowledged every one of them
    (``acks=all``, the app's producer setting).

    Raises:
        TimeoutError: ``durable`` and the broker did not acknowledge within ``ack_timeout_s``;
            some outputs may have been written (event ids make the retry idempotent).
        KafkaError: the producer failed.
    """
    received_at = datetime.now(UTC)
    verdict = judge(raw, origin, received_at=received_at, registry=current_registry())
    async with asyncio.timeout(ACK_TIMEOUT_S if durable else None):
        sends: list[Awaitable[RecordMetadata]] = [
            await observations_topic.send(
                key=event.patient_id.encode(), value=event.model_dump_json().encode()
            )
            for event in verdict.accepted
        ]
        for rejection in verdict.rejections:
            sends.append(await send_dead_letter(raw, origin, rejection, received_at=received_at))
        if durable:
            await asyncio.gather(*sends)
    return verdict


@app.agent(readings_topic)
async def validate_readings(stream: faust.StreamT[bytes]) -> None:
    """Judge each inbound Kafka message; acknowledge it only once its outputs are sent."""
    manual = manual_ack(stream)
    async for event in manual.events():
        message = event.message
        headers = message.headers
        origin = Origin(
            path=f"kafka:{message.topic}",
            key=message.key if isinstance(message.key, bytes) else None,
            content_type=header_value(headers, CONTENT_TYPE_HEADER),
            gateway_id=header_value(headers, GATEWAY_HEADER),
            partition=message.partition,
            offset=message.offset,
            replay_of=header_value(headers, REPLAY_OF_HEADER),
        )
        raw = message.value if isinstance(message.value, bytes) else b""
        await ingest(raw, origin, durable=False)
        await manual.ack(event)
