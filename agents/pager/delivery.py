"""Delivering one transition to its targets: retries, fallback, deduplication, audit.

For each target (a receiver and its channels in fallback order):

1. If the delivered-pages store already has ``<transition>/<receiver>/<first channel>``, the
   target was served before (a redelivery, restart or replay): audit ``duplicate_skipped``.
2. Otherwise try the first channel with retries (tenacity: exponential backoff with jitter,
   honouring Retry-After, via :class:`agents.retry.BackoffWait`) until it accepts, refuses for
   good, or spends its budget (``retry_attempts`` attempts or ``retry_budget_s`` seconds,
   whichever comes first); then fall back to the next channel, and so on.
3. A channel whose budget ran out is marked down; while down it gets a single attempt per
   transition, so a long outage costs each later page one failed attempt, not a whole budget.
   Its first success marks it up again.
4. If every channel failed, wait (backoff capped at ``max_backoff_s``) and go round again:
   an outage of every channel delays the page, it never drops it.
5. The store records the target as served (with the channel that carried it), and ``confirm``
   waits until that record is durable (the broker has the table's changelog entry) before
   the next target: a worker that stops or crashes after a page must leave its record behind,
   or the worker that redelivers the event pages again. Every attempt is audited
   (``retrying``, ``failed``, ``fell_back``, ``delivered``).

Hand-written around tenacity because the policy spans channels (fallback, down marks), which
a single retry loop does not express.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
)

from agents.pager.audit import notification_audit
from agents.pager.channels.base import Channel
from agents.pager.errors import DeliveryError
from agents.pager.plan import Carrier, Target
from agents.pager.routing import CHANNELS, ChannelName
from agents.retry import BackoffWait
from schemas.alerts import Alert
from schemas.pager_audit import AuditOutcome, PagerAudit

log = logging.getLogger(__name__)

AuditSink = Callable[[PagerAudit], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]
Confirm = Callable[[], Awaitable[None]]


async def _already_durable() -> None:
    """The default ``confirm``: a plain mapping is durable as soon as it is written."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one channel is tried for one transition before falling back."""

    attempts: int
    budget_s: float
    initial_backoff_s: float
    max_backoff_s: float


def delivered_key(alert: Alert, target: Target) -> str:
    """The delivered-pages key of a target: transition, receiver and first channel."""
    return f"{alert.transition_id}/{target.receiver.id}/{target.primary}"


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, DeliveryError) and exc.retryable


class Deliverer:
    """Delivers transitions over ``channels``, recording them in ``delivered``.

    ``confirm`` returns once everything written to ``delivered`` so far is durable.
    """

    def __init__(
        self,
        channels: Mapping[ChannelName, Channel],
        *,
        delivered: MutableMapping[str, str],
        audit: AuditSink,
        policy: RetryPolicy,
        confirm: Confirm = _already_durable,
        clock: Callable[[], float] = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._channels = channels
        self._delivered = delivered
        self._confirm = confirm
        self._audit = audit
        self._policy = policy
        self._clock = clock
        self._sleep = sleep
        self._down: set[str] = set()

    async def deliver(
        self, alert: Alert, body: bytes, targets: Sequence[Target], *, published_at: float
    ) -> list[Carrier]:
        """Deliver to every target; return who was reached and how (including earlier runs)."""
        carriers = []
        for target in targets:
            carrier = await self._deliver_target(alert, body, target, published_at)
            carriers.append(Carrier(target.receiver.id, carrier, target.role))
        return carriers

    async def _deliver_target(
        self, alert: Alert, body: bytes, target: Target, published_at: float
    ) -> ChannelName:
        key = delivered_key(alert, target)
        earlier = self._delivered.get(key)
        if earlier:
            channel = next((c for c in CHANNELS if c == earlier), target.primary)
            await self._record(alert, target, channel, "duplicate_skipped", 0, published_at)
            return channel
        rounds = 0
        while True:
            for index, channel in enumerate(target.channels):
                if await self._try_channel(alert, body, target, channel, published_at):
                    self._delivered[key] = channel
                    await self._confirm()
                    return channel
                if len(target.channels) > 1:
                    following = target.channels[(index + 1) % len(target.channels)]
                    await self._record(
                        alert, target, channel, "fell_back", 0, published_at, fallback_to=following
                    )
            rounds += 1
            pause = min(
                self._policy.initial_backoff_s * 2 ** min(rounds, 16), self._policy.max_backoff_s
            )
            log.error(
                "every channel failed transition=%s receiver=%s; trying again in %.1f s",
                alert.transition_id,
                target.receiver.id,
                pause,
            )
            await self._sleep(pause)

    async def _try_channel(
        self, alert: Alert, body: bytes, target: Target, name: ChannelName, published_at: float
    ) -> bool:
        channel = self._channels.get(name)
        if channel is None:
            await self._record(
                alert, target, name, "failed", 0, published_at, detail="channel not configured"
            )
            return False
        down_key = f"{name} {channel.endpoint(target.receiver)}"
        down = down_key in self._down
        attempts = 1 if down else self._policy.attempts

        async def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome is not None else None
            wait = state.next_action.sleep if state.next_action is not None else 0.0
            await self._record(
                alert,
                target,
                name,
                "retrying",
                state.attempt_number,
                published_at,
                detail=f"{exc}; next attempt in {wait:.1f} s",
            )

        retrying = AsyncRetrying(
            retry=retry_if_exception(_retryable),
            wait=BackoffWait(
                max_backoff_s=self._policy.max_backoff_s,
                initial_s=self._policy.initial_backoff_s,
                jitter_s=self._policy.initial_backoff_s,
            ),
            stop=stop_after_attempt(attempts) | stop_before_delay(self._policy.budget_s),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        number = 0
        try:
            async for attempt in retrying:
                with attempt:
                    number = attempt.retry_state.attempt_number
                    await self._send(channel, alert, body, target)
        except DeliveryError as exc:
            self._down.add(down_key)
            await self._record(alert, target, name, "failed", number, published_at, detail=str(exc))
            return False
        if down:
            log.info("%s is back", down_key)
        self._down.discard(down_key)
        await self._record(alert, target, name, "delivered", number, published_at)
        return True

    @staticmethod
    async def _send(channel: Channel, alert: Alert, body: bytes, target: Target) -> None:
        try:
            await channel.send(alert, body, target.receiver)
        except DeliveryError:
            raise
        except Exception as exc:  # a bug in a channel must not stop the other channels
            log.exception("channel %s failed unexpectedly", channel.name)
            raise DeliveryError(f"unexpected error: {exc!r}", retryable=False) from exc

    async def _record(
        self,
        alert: Alert,
        target: Target,
        channel: ChannelName,
        outcome: AuditOutcome,
        attempt: int,
        published_at: float,
        *,
        detail: str | None = None,
        fallback_to: ChannelName | None = None,
    ) -> None:
        now = self._clock()
        record = notification_audit(
            alert,
            receiver=target.receiver.id,
            role=target.role,
            channel=channel,
            outcome=outcome,
            attempt=attempt,
            at=now,
            latency_ms=max(now - published_at, 0.0) * 1000,
            detail=detail,
            fallback_to=fallback_to,
        )
        level = logging.INFO if outcome in ("delivered", "duplicate_skipped") else logging.WARNING
        log.log(
            level,
            "page %s channel=%s receiver=%s transition=%s attempt=%d%s",
            outcome,
            channel,
            target.receiver.id,
            alert.transition_id,
            attempt,
            f": {detail}" if detail else "",
        )
        await self._audit(record)
