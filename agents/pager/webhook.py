"""Signed JSON webhooks: the base for Slack or Teams bridges and a hospital's paging gateway.

Each POST carries the alert transition as JSON and these headers:

- ``X-Detoxmon-Timestamp``: Unix seconds when it was signed;
- ``X-Detoxmon-Signature``: ``v1=`` + hex HMAC-SHA256 over ``timestamp + "." + body`` with the
  shared secret (the receiver recomputes it and rejects old timestamps to stop replays);
- ``Idempotency-Key``: the transition id, the same on every retry, so a receiver that saw it
  already can drop the duplicate.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import aiohttp

from agents.pager.errors import DeliveryError
from agents.retry import parse_retry_after

__all__ = ["DeliveryError", "post_webhook", "sign", "verify"]


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def verify(
    secret: bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """Whether ``signature`` is valid and ``timestamp`` recent: the receiver's side."""
    current = time.time() if now is None else now
    try:
        age = abs(current - float(timestamp))
    except ValueError:
        return False
    return age <= tolerance_s and hmac.compare_digest(sign(secret, timestamp, body), signature)


async def post_webhook(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    *,
    idempotency_key: str,
    secret: bytes | None,
    timeout_s: float,
) -> None:
    """POST ``body`` to ``url``; raise :class:`DeliveryError` unless it answers 2xx."""
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": idempotency_key,
        "X-Detoxmon-Timestamp": timestamp,
    }
    if secret is not None:
        headers["X-Detoxmon-Signature"] = sign(secret, timestamp, body)
    try:
        async with session.post(
            url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout_s)
        ) as response:
            if 200 <= response.status < 300:
                return
            retryable = response.status == 429 or response.status >= 500
            raise DeliveryError(
                f"webhook answered {response.status}",
                retryable=retryable,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise DeliveryError(f"webhook unreachable: {exc!r}", retryable=True) from exc
