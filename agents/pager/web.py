"""HTTP endpoints on the worker's web server: acknowledge an alert, receive PagerDuty webhooks.

``POST /alerts/{alert_id}/ack`` (bearer token): 202 accepted, 401 no or wrong token, 404
unknown alert, 409 already resolved, 422 invalid body, 503 the broker did not take it.
``POST /pagerduty/webhook`` (``X-PagerDuty-Signature``): 401 bad signature, 202 accepted,
200 ignored (another event type, or not one of our alerts: PagerDuty must not retry those).

Both answer only after the broker has the acknowledgement (``acks=all``), so a 202 means it
will reach the rule engine. The alert is looked up in the pager's table, which this worker
holds for the partitions it consumes (one worker holds all of them).
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from faust.web import Request, Response, View
from pydantic import ValidationError

from agents.app import app
from agents.contract import describe
from agents.pager.acks import (
    AckRequest,
    bearer_allowed,
    http_acknowledgement,
    pagerduty_ack_target,
    pagerduty_acknowledgement,
    pagerduty_signature_valid,
)
from agents.pager.audit import acknowledgement_audit
from agents.pager.startup import current_runtime
from agents.pager.state import AlertRecord, acks_topic, audit_topic, get_record
from schemas.acks import AlertAcknowledgement

log = logging.getLogger(__name__)

#: How long an endpoint waits for the broker to confirm the acknowledgement.
PUBLISH_TIMEOUT_S = 15.0


async def publish_acknowledgement(ack: AlertAcknowledgement, record: AlertRecord) -> None:
    """Publish ``ack`` keyed by patient and wait for the broker; then audit it."""
    key = ack.patient_id.encode()
    delivery = await acks_topic.send(key=key, value=ack.model_dump_json().encode())
    await asyncio.wait_for(asyncio.ensure_future(delivery), timeout=PUBLISH_TIMEOUT_S)
    audit = acknowledgement_audit(
        ack,
        ward=record.ward,
        rule_id=record.rule_id,
        priority=record.priority,
        first_paged_at=record.first_paged_at,
    )
    await audit_topic.send(key=key, value=audit.model_dump_json().encode())
    log.info(
        "acknowledged alert=%s patient=%s by=%s via=%s reason=%s",
        ack.alert_id,
        ack.patient_id,
        ack.by,
        ack.via,
        ack.reason,
    )


class _Endpoint(View):
    """Shared answers."""

    def answer(self, code: int, **body: Any) -> Response:
        headers = {"WWW-Authenticate": 'Bearer realm="detoxmon"'} if code == 401 else None
        return self.json(body, status=code, headers=headers)

    async def publish(self, ack: AlertAcknowledgement, record: AlertRecord) -> Response:
        try:
            await publish_acknowledgement(ack, record)
        except Exception as exc:  # the caller must retry: tell it so
            log.error("could not publish acknowledgement alert=%s: %r", ack.alert_id, exc)
            return self.answer(503, error="the acknowledgement could not be stored; retry")
        return self.answer(
            202, status="accepted", ack_id=str(ack.ack_id), alert_id=str(ack.alert_id)
        )


@app.page("/alerts/{alert_id}/ack")
class AcknowledgeAlert(_Endpoint):
    """A staff app acknowledges an alert."""

    async def post(self, request: Request, alert_id: str) -> Response:
        runtime = current_runtime()
        if not bearer_allowed(request.headers.get("Authorization"), runtime.ack_tokens):
            return self.answer(401, error="a valid bearer token is required")
        try:
            alert_uuid = UUID(alert_id)
        except ValueError:
            return self.answer(404, error="unknown alert")
        try:
            body = AckRequest.model_validate_json(await request.read())
        except ValidationError as exc:
            return self.answer(422, error=describe(exc))
        record = get_record(alert_uuid)
        if record is None:
            return self.answer(404, error="unknown alert")
        if body.patient_id is not None and body.patient_id != record.patient_id:
            return self.answer(422, error="patient_id does not match the alert")
        if record.state == "resolved":
            return self.answer(409, error="the alert is already resolved")
        ack = http_acknowledgement(
            alert_uuid,
            body,
            patient_id=record.patient_id,
            at=datetime.now(UTC),
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        return await self.publish(ack, record)


@app.page("/pagerduty/webhook")
class PagerDutyWebhook(_Endpoint):
    """PagerDuty v3 webhook: ``incident.acknowledged`` becomes an acknowledgement."""

    async def post(self, request: Request) -> Response:
        raw = await request.read()
        secret = current_runtime().pagerduty_webhook_secret
        if not pagerduty_signature_valid(secret, raw, request.headers.get("X-PagerDuty-Signature")):
            return self.json({"error": "bad or missing signature"}, status=401)
        try:
            payload = json.loads(raw)
        except ValueError:
            return self.answer(400, error="not JSON")
        target = pagerduty_ack_target(payload)
        if target is None:
            return self.answer(200, status="ignored")
        event_id, alert_id, user = target
        record = get_record(alert_id)
        if record is None or record.state == "resolved":
            log.info("PagerDuty acknowledged alert=%s, unknown or resolved here: ignored", alert_id)
            return self.answer(200, status="ignored")
        ack = pagerduty_acknowledgement(
            event_id, alert_id, user, patient_id=record.patient_id, at=datetime.now(UTC)
        )
        return await self.publish(ack, record)
