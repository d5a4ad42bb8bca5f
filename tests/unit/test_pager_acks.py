"""Acknowledgements: bearer tokens, PagerDuty webhook signatures, and the resulting message."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from agents.pager.acks import (
    AckRequest,
    bearer_allowed,
    http_acknowledgement,
    pagerduty_ack_target,
    pagerduty_acknowledgement,
    pagerduty_signature_valid,
)

TOKENS = (b"staff-app-token", b"ward-tablet-token")
AT = datetime(2026, 11, 20, 8, 20, tzinfo=UTC)
ALERT = uuid.UUID("8c5b0a8e-0d2f-4c4e-9a6b-3f0e1d2c3b4a")


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        ("Bearer staff-app-token", True),
        ("bearer ward-tablet-token", True),
        ("Bearer staff-app-token-2", False),
        ("Bearer ", False),
        ("Basic c3RhZmY6YXBw", False),
        ("staff-app-token", False),
        (None, False),
    ],
)
def test_only_a_configured_bearer_token_is_allowed(header: str | None, allowed: bool) -> None:
    assert bearer_allowed(header, TOKENS) is allowed


def test_no_configured_token_allows_nobody() -> None:
    assert not bearer_allowed("Bearer anything", ())


def pagerduty_payload(
    event_type: str = "incident.acknowledged", key: str | None = None
) -> dict[str, Any]:
    """A v3 webhook body, shaped as PagerDuty's documentation shows it."""
    return {
        "event": {
            "id": "01DEN4HPBQAJ0H8ZXKDXXDFXYB",
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": "2026-11-20T08:19:42.169Z",
            "agent": {
                "html_url": "https://acme.pagerduty.com/users/PLH1HKV",
                "id": "PLH1HKV",
                "self": "https://api.pagerduty.com/users/PLH1HKV",
                "summary": "Staff Member Name",
                "type": "user_reference",
            },
            "client": None,
            "data": {
                "id": "PGR0VU2",
                "type": "incident",
                "number": 2,
                "status": "acknowledged",
                "incident_key": key or f"detoxmon-{ALERT}",
                "title": "Pulse at or above 120/min - patient pt-7f3a9c, ward-3",
                "urgency": "high",
            },
        }
    }


def signed(body: bytes, *secrets: bytes) -> str:
    return ",".join("v1=" + hmac.new(s, body, hashlib.sha256).hexdigest() for s in secrets)


def test_pagerduty_signatures_verify_over_the_raw_body_even_during_rotation() -> None:
    body = json.dumps(pagerduty_payload()).encode()
    secret = b"pd-webhook-secret"
    assert pagerduty_signature_valid(secret, body, signed(body, secret))
    assert pagerduty_signature_valid(secret, body, signed(body, b"old-secret", secret))
    assert not pagerduty_signature_valid(secret, body, signed(body, b"old-secret"))
    assert not pagerduty_signature_valid(secret, body + b" ", signed(body, secret))
    assert not pagerduty_signature_valid(secret, body, "")
    assert not pagerduty_signature_valid(None, body, signed(body, secret))


def test_incident_acknowledged_names_our_alert_and_the_pagerduty_user() -> None:
    assert pagerduty_ack_target(pagerduty_payload()) == (
        "01DEN4HPBQAJ0H8ZXKDXXDFXYB",
        ALERT,
        "PLH1HKV",
    )
    assert pagerduty_ack_target(pagerduty_payload("incident.resolved")) is None
    assert pagerduty_ack_target(pagerduty_payload(key="someone-elses-key")) is None
    assert pagerduty_ack_target({"event": "nonsense"}) is None
    assert pagerduty_ack_target([1, 2]) is None


def test_a_pagerduty_ack_keeps_the_user_id_and_a_stable_ack_id_but_never_the_name() -> None:
    ack = pagerduty_acknowledgement(
        "01DEN4HPBQAJ0H8ZXKDXXDFXYB", ALERT, "PLH1HKV", patient_id="pt-7f3a9c", at=AT
    )
    again = pagerduty_acknowledgement(
        "01DEN4HPBQAJ0H8ZXKDXXDFXYB", ALERT, "PLH1HKV", patient_id="pt-7f3a9c", at=AT
    )
    assert (ack.by, ack.via, ack.reason, ack.alert_id) == (
        "pd-PLH1HKV",
        "pagerduty",
        "other",
        ALERT,
    )
    assert ack.ack_id == again.ack_id  # PagerDuty's own retry repeats it
    assert "Staff Member" not in ack.model_dump_json()


def test_an_http_ack_repeats_its_id_only_for_the_same_idempotency_key() -> None:
    request = AckRequest.model_validate(
        {"by": "rn-4411", "role": "bedside_nurse", "reason": "attending_patient"}
    )
    first = http_acknowledgement(
        ALERT, request, patient_id="pt-7f3a9c", at=AT, idempotency_key="k1"
    )
    retry = http_acknowledgement(
        ALERT, request, patient_id="pt-7f3a9c", at=AT, idempotency_key="k1"
    )
    other = http_acknowledgement(
        ALERT, request, patient_id="pt-7f3a9c", at=AT, idempotency_key=None
    )
    assert first.ack_id == retry.ack_id != other.ack_id
    assert (first.by, first.role, first.reason, first.via) == (
        "rn-4411",
        "bedside_nurse",
        "attending_patient",
        "http",
    )


def test_an_ack_request_refuses_free_text_and_names() -> None:
    with pytest.raises(ValidationError):
        AckRequest.model_validate({"by": "Jane Doe", "reason": "attending_patient"})
    with pytest.raises(ValidationError):
        AckRequest.model_validate({"by": "rn-4411", "reason": "she looked fine"})
    with pytest.raises(ValidationError):
        AckRequest.model_validate({"by": "rn-4411", "reason": "other", "note": "free text"})
