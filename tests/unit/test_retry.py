"""The shared retry policy: Retry-After honoured, backoff capped, the rest raised at once."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest
from tenacity import stop_after_attempt

from agents.retry import parse_retry_after, retry_after_of, retrying


class Flaky(Exception):
    def __init__(self, retry_after: float | None = None) -> None:
        super().__init__(f"flaky (retry after {retry_after})")
        self.retry_after = retry_after


class Broken(Exception):
    pass


class FakeClock:
    """Records every sleep instead of sleeping."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


async def run(failures: list[BaseException], clock: FakeClock, **options: object) -> int:
    """Run an operation that raises ``failures`` in turn, then succeeds; return the attempts."""
    attempts = 0
    async for attempt in retrying(
        retryable=lambda exc: isinstance(exc, Flaky),
        sleep=clock.sleep,
        **options,  # type: ignore[arg-type]
    ):
        with attempt:
            attempts += 1
            if failures:
                raise failures.pop(0)
    return attempts


async def test_retry_after_is_honoured_even_above_the_backoff_cap() -> None:
    clock = FakeClock()
    attempts = await run([Flaky(7), Flaky(0.25)], clock, max_backoff_s=1)
    assert attempts == 3
    assert clock.sleeps == [7, 0.25]


async def test_an_absurd_retry_after_is_cut_to_the_configured_maximum() -> None:
    clock = FakeClock()
    await run([Flaky(86_400)], clock, max_backoff_s=1, max_retry_after_s=60)
    assert clock.sleeps == [60]


async def test_backoff_doubles_with_bounded_jitter_and_never_exceeds_the_cap() -> None:
    clock = FakeClock()
    attempts = await run(
        [Flaky() for _ in range(12)], clock, max_backoff_s=5, initial_s=0.5, jitter_s=0.5
    )
    assert attempts == 13
    for number, slept in enumerate(clock.sleeps[:3]):
        base = 0.5 * 2**number
        assert base <= slept <= base + 0.5
    assert all(slept <= 5 for slept in clock.sleeps)
    assert clock.sleeps[-1] == 5  # reached the cap and stays there


async def test_a_failure_that_is_not_retryable_is_raised_at_once() -> None:
    clock = FakeClock()
    with pytest.raises(Broken):
        await run([Broken()], clock, max_backoff_s=1)
    assert clock.sleeps == []


async def test_cancellation_is_never_retried() -> None:
    clock = FakeClock()
    with pytest.raises(asyncio.CancelledError):
        await run([asyncio.CancelledError()], clock, max_backoff_s=1)
    assert clock.sleeps == []


async def test_a_stop_condition_gives_up_with_the_last_failure() -> None:
    clock = FakeClock()
    failures: list[BaseException] = [Flaky(1), Flaky(2), Flaky(3), Flaky(4)]
    with pytest.raises(Flaky, match="retry after 3"):
        await run(failures, clock, max_backoff_s=1, stop=stop_after_attempt(3))
    assert clock.sleeps == [1, 2]


async def test_each_retry_is_logged_with_attempt_and_delay(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    logger = logging.getLogger("test.retry")
    with caplog.at_level(logging.WARNING, logger="test.retry"):
        await run([Flaky(2)], clock, max_backoff_s=1, logger=logger, what="thing")
    assert caplog.messages == ["thing failed (attempt 1), retrying in 2.0 s: flaky (retry after 2)"]


async def test_real_sleep_is_used_by_default() -> None:
    started = asyncio.get_running_loop().time()
    attempts = 0
    async for attempt in retrying(retryable=lambda exc: True, max_backoff_s=0.05):
        with attempt:
            attempts += 1
            if attempts == 1:
                raise Flaky(0.05)
    assert asyncio.get_running_loop().time() - started >= 0.05


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        (" 1.5 ", 1.5),
        ("-3", 0.0),
        ("Mon, 23 Nov 2026 10:00:30 GMT", 30.0),
        ("Mon, 23 Nov 2026 09:00:00 GMT", 0.0),  # in the past
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_header_is_seconds_or_an_http_date(
    header: str | None, expected: float | None
) -> None:
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert parse_retry_after(header, now=now) == expected


def test_retry_after_is_read_from_the_exception_only_when_numeric() -> None:
    assert retry_after_of(Flaky(3)) == 3.0
    assert retry_after_of(Flaky(None)) is None
    assert retry_after_of(Broken()) is None
    assert retry_after_of(None) is None
