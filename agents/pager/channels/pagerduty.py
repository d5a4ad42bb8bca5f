"""PagerDuty Events API v2: ``trigger``, ``acknowledge`` and ``resolve`` one incident per alert.

Every transition of an alert carries the same ``dedup_key`` (``detoxmon-<alert id>``), so
PagerDuty folds a retried or replayed trigger into the open incident, and the acknowledge and
resolve land on it. ``firing``, ``renotified`` and ``escalated`` trigger; ``acknowledged``
acknowledges; ``resolved`` resolves. Only a trigger carries a payload; its severity follows the
alarm priority (high: critical, medium: error, low: warning). Responses: 202 accepted; 400
refused for good; 429 and 5xx retried (honouring Retry-After), as PagerDuty documents.
"""

from __future__ import annotations

import json
from typing import Any, Final
from uuid import UUID

import aiohttp

from agents.pager.errors import DeliveryError
from agents.pager.plan import Receiver
from agents.pager.routing import ChannelName
from agents.retry import parse_retry_after
from schemas.alerts import Alert

EVENT_ACTIONS: Final = {
    "firing": "trigger",
    "renotified": "trigger",
    "escalated": "trigger",
    "acknowledged": "acknowledge",
    "resolved": "resolve",
}
SEVERITIES: Final = {"high": "critical", "medium": "error", "low": "warning"}
DEDUP_PREFIX: Final = "detoxmon-"
SUMMARY_LIMIT: Final = 1024


def dedup_key(alert_id: UUID) -> str:
    """The PagerDuty dedup key of an alert, the same for its whole life."""
    return f"{DEDUP_PREFIX}{alert_id}"


def alert_id_from_dedup_key(key: str) -> UUID | None:
    """The alert id in one of our dedup keys (None for any other key)."""
    if not key.startswith(DEDUP_PREFIX):
        return None
    try:
        return UUID(key.removeprefix(DEDUP_PREFIX))
    except ValueError:
        return None


def _summary(alert: Alert) -> str:
    where = alert.ward or "no ward"
    text = f"{alert.summary} - patient {alert.patient_id}, {where}"
    if alert.state != "firing":
        text += f" ({alert.state}, for {alert.escalate_to.replace('_', ' ')})"
    return text[:SUMMARY_LIMIT]


def pagerduty_event(alert: Alert, routing_key: str) -> dict[str, Any]:
    """The Events API v2 body for one transition."""
    action = EVENT_ACTIONS[alert.state]
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": dedup_key(alert.alert_id),
    }
    if action != "trigger":
        return event
    evidence = alert.evidence
    event["client"] = "detoxmon"
    event["payload"] = {
        "summary": _summary(alert),
        "source": f"detoxmon/{alert.ward or 'no-ward'}",
        "severity": SEVERITIES[alert.priority],
        "timestamp": alert.at.isoformat(),
        "component": alert.rule_id,
        "group": alert.ward or "no-ward",
        "class": evidence.measure,
        "custom_details": {
            "alert_id": str(alert.alert_id),
            "transition_id": str(alert.transition_id),
            "state": alert.state,
            "sequence": alert.sequence,
            "priority": alert.priority,
            "patient_id": alert.patient_id,
            "escalation_level": alert.escalation_level,
            "escalate_to": alert.escalate_to,
            "value": evidence.value,
            "unit": evidence.unit,
            "threshold": evidence.threshold,
            "observed_at": evidence.observed_at.isoformat(),
            "rule_source": alert.source,
        },
    }
    return event


class PagerDutyChannel:
    """Sends transitions to the Events API v2 endpoint with each receiver's routing key."""

    def __init__(self, session: aiohttp.ClientSession, *, url: str, timeout_s: float) -> None:
        self._session = session
        self._url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    @property
    def name(self) -> ChannelName:
        """``pagerduty``."""
        return "pagerduty"

    def endpoint(self, receiver: Receiver) -> str:
        """The Events API URL (one service for every routing key)."""
        return self._url

    async def send(self, alert: Alert, body: bytes, receiver: Receiver) -> None:
        """POST the event; raise :class:`DeliveryError` unless PagerDuty answers 2xx."""
        if receiver.routing_key is None:
            raise DeliveryError(f"receiver {receiver.id} has no routing key", retryable=False)
        event = json.dumps(pagerduty_event(alert, receiver.routing_key)).encode()
        try:
            async with self._session.post(
                self._url,
                data=event,
                headers={"Content-Type": "application/json"},
                timeout=self._timeout,
            ) as response:
                if 200 <= response.status < 300:
                    return
                detail = (await response.text())[:200]
                retryable = response.status == 429 or response.status >= 500
                raise DeliveryError(
                    f"PagerDuty answered {response.status}: {detail}",
                    retryable=retryable,
                    retry_after=parse_retry_after(response.headers.get("Retry-After")),
                )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise DeliveryError(f"PagerDuty unreachable: {exc!r}", retryable=True) from exc
