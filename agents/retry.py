"""The retry policy shared by side effects that must eventually succeed (InfluxDB writes, pages).

One policy, built on tenacity, so every client backs off the same way and a test can check it
once:

- a failure the predicate calls retryable is retried; anything else (including cancellation,
  which must stop a worker promptly) is raised at once;
- the wait is the server's ``Retry-After`` when the failure carries one (attribute
  ``retry_after``, seconds), bounded by ``max_retry_after_s`` so a bogus header cannot park the
  pipeline for hours; otherwise exponential backoff (``initial_s`` doubling) plus up to
  ``jitter_s`` of random jitter, never more than ``max_backoff_s``;
- the default is to retry for ever (delay, never loss); a caller that may give up (a heartbeat)
  passes a tenacity ``stop``.

Usage::

    async for attempt in retrying(retryable=lambda e: isinstance(e, Unavailable),
                                  max_backoff_s=30, logger=log, what="InfluxDB write"):
        with attempt:
            await writer.write(lines)
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_never,
    wait_exponential_jitter,
)
from tenacity.stop import StopBaseT

__all__ = ["BackoffWait", "parse_retry_after", "retry_after_of", "retrying"]

#: Longest Retry-After honoured as given; a longer one is cut to this.
DEFAULT_MAX_RETRY_AFTER_S = 300.0


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP-date (RFC 9110).

    Returns ``None`` for a missing or unreadable header, and never a negative number.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def retry_after_of(exc: BaseException | None) -> float | None:
    """The ``retry_after`` (seconds) an exception carries, if any."""
    value = getattr(exc, "retry_after", None)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return max(float(value), 0.0)
    return None


class BackoffWait:
    """Tenacity wait: Retry-After when given, else capped exponential backoff with jitter."""

    def __init__(
        self,
        *,
        max_backoff_s: float,
        initial_s: float = 0.5,
        jitter_s: float = 0.5,
        max_retry_after_s: float = DEFAULT_MAX_RETRY_AFTER_S,
    ) -> None:
        self.max_backoff_s = max_backoff_s
        self.max_retry_after_s = max_retry_after_s
        self._backoff = wait_exponential_jitter(
            initial=min(initial_s, max_backoff_s), max=max_backoff_s, jitter=jitter_s
        )

    def __call__(self, state: RetryCallState) -> float:
        """Seconds to sleep before the next attempt."""
        exc = state.outcome.exception() if state.outcome is not None else None
        after = retry_after_of(exc)
        if after is not None:
            return min(after, self.max_retry_after_s)
        return float(self._backoff(state))


def _log_before_sleep(logger: logging.Logger, what: str) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        logger.warning(
            "%s failed (attempt %d), retrying in %.1f s: %s",
            what,
            state.attempt_number,
            delay,
            exc,
        )

    return before_sleep


def retrying(
    *,
    retryable: Callable[[BaseException], bool],
    max_backoff_s: float,
    initial_s: float = 0.5,
    jitter_s: float = 0.5,
    max_retry_after_s: float = DEFAULT_MAX_RETRY_AFTER_S,
    stop: StopBaseT = stop_never,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    logger: logging.Logger | None = None,
    what: str = "operation",
) -> AsyncRetrying:
    """An ``AsyncRetrying`` for the policy above; the last failure is re-raised when it stops.

    Args:
        retryable: whether a failure may succeed on a later attempt.
        max_backoff_s: cap of the exponential backoff (not of Retry-After).
        initial_s: first backoff. Defaults to 0.5 s.
        jitter_s: up to this much random delay is added. Defaults to 0.5 s.
        max_retry_after_s: cap of an honoured Retry-After. Defaults to 300 s.
        stop: when to give up. Defaults to never.
        sleep: the sleep coroutine (tests pass a fake clock). Defaults to ``asyncio.sleep``.
        logger: where each retry is logged (warning). Defaults to this module's logger.
        what: what failed, for the log line.
    """

    def should_retry(exc: BaseException) -> bool:
        return isinstance(exc, Exception) and retryable(exc)

    return AsyncRetrying(
        retry=retry_if_exception(should_retry),
        wait=BackoffWait(
            max_backoff_s=max_backoff_s,
            initial_s=initial_s,
            jitter_s=jitter_s,
            max_retry_after_s=max_retry_after_s,
        ),
        stop=stop,
        sleep=sleep,
        before_sleep=_log_before_sleep(logger or logging.getLogger(__name__), what),
        reraise=True,
    )
