"""One entry point per message format, each turning bytes into contract events.

A message may carry several events (a FHIR Bundle, an HL7 ORU with several observation
groups, a JSON array) and some of them may be unusable while others are fine, so a converter
returns a :class:`Conversion` with both lists instead of raising on the first problem. Events
come back validated but not yet stamped with their arrival: the ingest path calls
:func:`agents.contract.accept` with its own clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from agents.contract import ContractError, decode_object, validate_event
from schemas import InboundEvent

Format = Literal["json", "fhir", "hl7v2"]

#: Content types accepted per format (HTTP ``Content-Type``, Kafka ``content-type`` header).
CONTENT_TYPES: dict[str, Format] = {
    "application/json": "json",
    "application/fhir+json": "fhir",
    "application/json+fhir": "fhir",
    "x-application/hl7-v2+er7": "hl7v2",
    "application/hl7-v2": "hl7v2",
    "text/hl7v2": "hl7v2",
}


@dataclass(frozen=True)
class Rejection:
    """One unusable part of a message, with a stable reason code and an actionable detail."""

    reason: str
    detail: str
    location: str | None = None  # e.g. "Bundle.entry[3]" or "OBX[5]"

    @classmethod
    def of(cls, error: ContractError, location: str | None = None) -> Rejection:
        """From a :class:`ContractError`."""
        return cls(reason=error.reason, detail=error.detail, location=location)


@dataclass(frozen=True)
class Conversion:
    """What a message yielded: events to accept and parts to dead-letter."""

    events: list[InboundEvent] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


Converter = Callable[[bytes], Conversion]


def convert_json(raw: bytes) -> Conversion:
    """Native JSON: one event object."""
    try:
        return Conversion(events=[validate_event(decode_object(raw))])
    except ContractError as error:
        return Conversion(rejections=[Rejection.of(error)])


def format_for(content_type: str | None) -> Format:
    """The format a content type names (parameters such as ``charset`` ignored).

    Raises:
        ContractError: ``unsupported_media_type`` for anything else.
    """
    if content_type is None or not content_type.strip():
        return "json"
    media_type = content_type.split(";", 1)[0].strip().lower()
    try:
        return CONTENT_TYPES[media_type]
    except KeyError:
        raise ContractError(
            "unsupported_media_type",
            f"content type {media_type!r} is not one of {sorted(CONTENT_TYPES)}",
        ) from None


def convert(fmt: Format, raw: bytes) -> Conversion:
    """Convert ``raw`` in format ``fmt`` (FHIR and HL7 v2 libraries load on first use)."""
    if fmt == "json":
        return convert_json(raw)
    if fmt == "fhir":
        from agents.ingest.fhir import convert_fhir

        return convert_fhir(raw)
    from agents.ingest.hl7v2 import convert_hl7v2

    return convert_hl7v2(raw)
