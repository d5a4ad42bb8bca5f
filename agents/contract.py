"""Parsing inbound bytes into the contract, with a typed rejection a gateway engineer can act on."""

from __future__ import annotations

import json

from pydantic import ValidationError

from schemas import VitalSignsObservation


class ContractError(ValueError):
    """A message that does not meet the contract; ``reason`` is a stable code for counting."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False):
        location = ".".join(str(p) for p in item["loc"]) or "(message)"
        parts.append(f"{location}: {item['msg']}")
    return "; ".join(parts)


def parse_observation(raw: bytes) -> VitalSignsObservation:
    """Decode and validate one vital-signs message.

    Raises:
        ContractError: with reason ``not_utf8``, ``invalid_json``, ``not_an_object``,
            ``unknown_kind`` or ``schema_violation``.
    """
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
    if not isinstance(data, dict):
        raise ContractError("not_an_object", f"expected a JSON object, got {type(data).__name__}")
    kind = data.get("kind", "vital_signs")
    if kind != "vital_signs":
        raise ContractError("unknown_kind", f"kind {kind!r} is not accepted on this topic")
    try:
        return VitalSignsObservation.model_validate(data)
    except ValidationError as exc:
        raise ContractError("schema_violation", _describe(exc)) from exc
