"""The signed webhook channel (contract in :mod:`agents.pager.webhook`).

The body is the transition exactly as published on the alerts topic; the URL identifies the
receiver (the routing file refuses two receivers on one URL), so the transition id is a
sufficient ``Idempotency-Key``.
"""

from __future__ import annotations

import aiohttp

from agents.pager.errors import DeliveryError
from agents.pager.plan import Receiver
from agents.pager.routing import ChannelName
from agents.pager.webhook import post_webhook
from schemas.alerts import Alert


class WebhookChannel:
    """POSTs signed transitions to each receiver's webhook URL."""

    def __init__(self, session: aiohttp.ClientSession, *, timeout_s: float) -> None:
        self._session = session
        self._timeout_s = timeout_s

    @property
    def name(self) -> ChannelName:
        """``webhook``."""
        return "webhook"

    def endpoint(self, receiver: Receiver) -> str:
        """The receiver's URL."""
        return receiver.webhook_url or ""

    async def send(self, alert: Alert, body: bytes, receiver: Receiver) -> None:
        """POST ``body``, signed; raise :class:`DeliveryError` unless it answers 2xx."""
        if receiver.webhook_url is None:
            raise DeliveryError(f"receiver {receiver.id} has no webhook", retryable=False)
        await post_webhook(
            self._session,
            receiver.webhook_url,
            body,
            idempotency_key=str(alert.transition_id),
            secret=receiver.webhook_secret,
            timeout_s=self._timeout_s,
        )
