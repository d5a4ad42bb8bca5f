"""Agent: deliver each alert transition to the log and to every configured webhook.

A transition is delivered once: its id is recorded in a table after delivery and checked
before it, so redelivery after a restart or rebalance pages nobody twice (receivers also get
the id as ``Idempotency-Key`` for the narrow window between delivery and the record). A
receiver that is down is retried with exponential backoff and jitter, honouring Retry-After,
until it answers; the event is acknowledged only after that, so an outage delays pages and
never loses them.
"""

from __future__ import annotations

import logging

import aiohttp
import faust
from pydantic import ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from agents.app import alerts_topic, app, delivered_pages_table, settings
from agents.contract import ContractError
from agents.deadletter import dead_letter
from agents.pager.webhook import DeliveryError, post_webhook
from agents.streaming import manual_ack
from schemas import Alert

log = logging.getLogger(__name__)


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, DeliveryError) and exc.retryable


def _wait_factory(max_backoff_s: float) -> _Wait:
    return _Wait(max_backoff_s)


class _Wait:
    def __init__(self, max_backoff_s: float) -> None:
        self._backoff = wait_exponential_jitter(initial=0.5, max=max_backoff_s, jitter=0.5)

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, DeliveryError) and exc.retry_after is not None:
            return exc.retry_after
        return float(self._backoff(state))


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome is not None else None
    log.warning("page delivery failed (attempt %d), retrying: %s", state.attempt_number, exc)


async def deliver(session: aiohttp.ClientSession, alert: Alert, body: bytes) -> None:
    """Deliver one transition to every webhook, retrying each until it succeeds."""
    secret = settings.pager.webhook_secret
    secret_bytes = secret.get_secret_value().encode() if secret is not None else None
    for url in settings.pager.webhook_urls:
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(_is_retryable),
                wait=_wait_factory(settings.pager.max_backoff_s),
                before_sleep=_log_retry,
                reraise=True,
            ):
                with attempt:
                    await post_webhook(
                        session,
                        url,
                        body,
                        idempotency_key=str(alert.transition_id),
                        secret=secret_bytes,
                        timeout_s=settings.pager.timeout_s,
                    )
        except DeliveryError as error:
            log.error("webhook refused page transition=%s: %s", alert.transition_id, error)


@app.agent(alerts_topic)
async def notify_pager(stream: faust.StreamT[bytes]) -> None:
    """Page each alert transition once."""
    manual = manual_ack(stream)
    async with aiohttp.ClientSession() as session:
        async for event in manual.events():
            try:
                alert = Alert.model_validate_json(event.value)
            except ValidationError as exc:
                await dead_letter(
                    event, ContractError("schema_violation", str(exc).splitlines()[0])
                )
                await manual.ack(event)
                continue
            key = str(alert.transition_id)
            if not delivered_pages_table[key]:
                log.info(
                    "PAGE %s %s priority=%s patient=%s rule=%s value=%s%s",
                    alert.state.upper(),
                    alert.summary,
                    alert.priority,
                    alert.patient_id,
                    alert.rule_id,
                    alert.evidence.value,
                    alert.evidence.unit,
                )
                await deliver(session, alert, event.value)
                delivered_pages_table[key] = True
            await manual.ack(event)
