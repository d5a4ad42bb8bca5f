"""Acknowledgements: checking who asks, and turning a request into an AlertAcknowledgement.

Two ways in, both ending as an ``AlertAcknowledgement`` on the acks topic (the rule engine
turns it into the alert's ``acknowledged`` transition):

- staff apps: ``POST /alerts/{alert_id}/ack`` with a bearer token and
  ``{"by", "role"?, "reason", "patient_id"?}``; an ``Idempotency-Key`` header makes a retried
  request repeat its ack id;
- PagerDuty v3 webhooks: ``incident.acknowledged`` signed with ``X-PagerDuty-Signature``
  (``v1=<hex HMAC-SHA256 of the raw body>``, several during a secret rotation); the
  incident's ``incident_key`` is the dedup key we sent, which names the alert.

Tokens and signatures are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from agents.pager.channels.pagerduty import alert_id_from_dedup_key
from schemas.acks import AckReason, AlertAcknowledgement
from schemas.alerts import EscalationRole
from schemas.common import PatientId, StaffId

#: Namespace of ack ids derived from an idempotency key or a PagerDuty event id.
ACK_NAMESPACE = uuid.UUID("9d7c1f52-2b7e-4d0c-8a51-3f6e2a9b4c17")


class AckRequest(BaseModel):
    """The body of ``POST /alerts/{alert_id}/ack``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    by: StaffId
    role: EscalationRole | None = None
    reason: AckReason
    patient_id: PatientId | None = None


def bearer_allowed(authorization: str | None, tokens: Sequence[bytes]) -> bool:
    """Whether ``Authorization: Bearer <token>`` names one of ``tokens`` (constant time)."""
    if not authorization or not tokens:
        return False
    scheme, _, presented = authorization.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return False
    candidate = presented.strip().encode()
    matched = False
    for token in tokens:  # compare with every token, so timing tells nothing
        matched |= hmac.compare_digest(candidate, token)
    return matched


def pagerduty_signature_valid(secret: bytes | None, body: bytes, header: str | None) -> bool:
    """Whether one of the ``v1=`` signatures in ``X-PagerDuty-Signature`` signs ``body``."""
    if secret is None or not header:
        return False
    expected = "v1=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    matched = False
    for signature in header.split(","):
        matched |= hmac.compare_digest(expected.encode(), signature.strip().encode())
    return matched


def http_acknowledgement(
    alert_id: uuid.UUID,
    request: AckRequest,
    *,
    patient_id: str,
    at: datetime,
    idempotency_key: str | None,
) -> AlertAcknowledgement:
    """The acknowledgement of a staff app's request."""
    ack_id = (
        uuid.uuid5(ACK_NAMESPACE, f"http:{alert_id}:{idempotency_key}")
        if idempotency_key
        else uuid.uuid4()
    )
    return AlertAcknowledgement(
        ack_id=ack_id,
        alert_id=alert_id,
        patient_id=patient_id,
        by=request.by,
        role=request.role,
        reason=request.reason,
        at=at,
        via="http",
    )


def pagerduty_ack_target(payload: Any) -> tuple[str, uuid.UUID, str | None] | None:
    """``(event id, alert id, PagerDuty user id)`` of an ``incident.acknowledged`` event.

    None for any other event type, or an incident that is not one of our alerts.
    """
    if not isinstance(payload, dict):
        return None
    event = payload.get("event")
    if not isinstance(event, dict) or event.get("event_type") != "incident.acknowledged":
        return None
    data = event.get("data")
    key = data.get("incident_key") if isinstance(data, dict) else None
    alert_id = alert_id_from_dedup_key(key) if isinstance(key, str) else None
    event_id = event.get("id")
    if alert_id is None or not isinstance(event_id, str):
        return None
    agent = event.get("agent")
    user = agent.get("id") if isinstance(agent, dict) else None
    return event_id, alert_id, user if isinstance(user, str) else None


def pagerduty_acknowledgement(
    event_id: str, alert_id: uuid.UUID, user: str | None, *, patient_id: str, at: datetime
) -> AlertAcknowledgement:
    """The acknowledgement of a PagerDuty ``incident.acknowledged`` event.

    ``by`` is ``pd-<PagerDuty user id>`` (an opaque id, never the user's name, which the event
    also carries); the ack id follows from PagerDuty's event id, so a webhook PagerDuty sends
    again repeats it.
    """
    by = f"pd-{user}" if user and user.isalnum() else "pagerduty"
    return AlertAcknowledgement(
        ack_id=uuid.uuid5(ACK_NAMESPACE, f"pagerduty:{event_id}"),
        alert_id=alert_id,
        patient_id=patient_id,
        by=by,
        reason="other",
        at=at,
        via="pagerduty",
    )
