"""Parsing inbound bytes into the contract, with a typed rejection a gateway engineer can act on.

Every path (Kafka, HTTP, MLLP, replay) goes through :func:`parse_event`, so a message is judged
the same way whichever way it came.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from pydantic import ValidationError

from schemas import EVENT_MODELS, INBOUND_EVENT, InboundEvent, VitalSignsObservation
from schemas.common import RESERVED_FIELDS

#: A reading may be stamped this far in the future (device clocks drift); beyond it, refused.
DEFAULT_FUTURE_TOLERANCE = timedelta(minutes=5)
#: A reading observed longer ago than this when it arrives is accepted and marked late.
DEFAULT_LATE_AFTER = timedelta(minutes=10)


class ContractError(ValueError):
    """A message that does not meet the contract; ``reason`` is a stable code for counting."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def describe(error: ValidationError) -> str:
    """One line naming each offending field and what is wrong, never echoing its value."""
    parts = []
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        location = ".".join(str(p) for p in item["loc"]) or "(message)"
        parts.append(f"{location}: {item['msg']}")
    return "; ".join(parts)


def decode_object(raw: bytes) -> dict[str, object]:
    """Decode bytes into a JSON object, or raise :class:`ContractError`."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContractError(
            "not_utf8", f"message is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ContractError(
            "invalid_json", f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except RecursionError as exc:
        raise ContractError("invalid_json", "nested too deeply to be an event") from exc
    if not isinstance(data, dict):
        raise ContractError("not_an_object", f"expected a JSON object, got {type(data).__name__}")
    return data


def validate_event(data: dict[str, object]) -> InboundEvent:
    """Validate a decoded message against the model its ``kind`` names."""
    kind = data.get("kind")
    if kind is None:
        raise ContractError("missing_kind", f"'kind' is required, one of {sorted(EVENT_MODELS)}")
    if not isinstance(kind, str) or kind not in EVENT_MODELS:
        shown = repr(kind) if isinstance(kind, str) else f"of type {type(kind).__name__}"
        raise ContractError("unknown_kind", f"kind {shown} is not one of {sorted(EVENT_MODELS)}")
    reserved = [name for name in RESERVED_FIELDS if name in data]
    if reserved:
        raise ContractError(
            "reserved_field", f"{', '.join(reserved)} may only be set by the pipeline"
        )
    try:
        return INBOUND_EVENT.validate_python(data)
    except ValidationError as exc:
        detail = describe(exc).replace(f"{kind}.", "")  # drop pydantic's union tag
        raise ContractError("schema_violation", detail) from exc


def accept(
    event: InboundEvent,
    *,
    received_at: datetime,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
    late_after: timedelta = DEFAULT_LATE_AFTER,
) -> InboundEvent:
    """Stamp an event with its arrival; refuse it if it claims to come from the future."""
    if event.observed_at > received_at + future_tolerance:
        ahead = (event.observed_at - received_at).total_seconds()
        raise ContractError(
            "future_time",
            f"observed_at is {ahead:.0f} s ahead of the pipeline's clock "
            f"(tolerance {future_tolerance.total_seconds():.0f} s): check the device clock",
        )
    late = received_at - event.observed_at > late_after
    return event.model_copy(update={"received_at": received_at, "late": late})


def parse_event(
    raw: bytes,
    *,
    received_at: datetime,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
    late_after: timedelta = DEFAULT_LATE_AFTER,
) -> InboundEvent:
    """Decode, validate and stamp one inbound message.

    Raises:
        ContractError: reason ``not_utf8``, ``invalid_json``, ``not_an_object``,
            ``missing_kind``, ``unknown_kind``, ``reserved_field``, ``schema_violation`` or
            ``future_time``.
    """
    event = validate_event(decode_object(raw))
    return accept(
        event, received_at=received_at, future_tolerance=future_tolerance, late_after=late_after
    )


def parse_accepted(raw: bytes) -> InboundEvent:
    """Parse an event the pipeline itself accepted earlier (reserved fields allowed)."""
    try:
        return INBOUND_EVENT.validate_json(raw)
    except ValidationError as exc:
        raise ContractError("schema_violation", describe(exc)) from exc


def parse_observation(raw: bytes) -> VitalSignsObservation:
    """Parse an accepted vital-signs observation.

    Raises:
        ContractError: the bytes are not an accepted vital-signs observation.
    """
    event = parse_accepted(raw)
    if not isinstance(event, VitalSignsObservation):
        raise ContractError("unexpected_kind", f"expected vital_signs, got {event.kind}")
    return event
