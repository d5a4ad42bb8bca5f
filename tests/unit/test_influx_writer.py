"""How InfluxDB's answers become errors: what is retried, what is refused, what is redacted."""

from __future__ import annotations

import pytest

from agents.influx.writer import (
    InfluxRefused,
    InfluxUnavailable,
    V1Writer,
    V2Writer,
    create_writer,
    error_for_status,
    redact,
)
from agents.settings import InfluxSettings


@pytest.mark.parametrize("status", [400, 413, 422])
def test_statuses_about_the_points_are_refusals_and_not_retried(status: int) -> None:
    error = error_for_status(status, "partial write: field type conflict", None)
    assert isinstance(error, InfluxRefused)
    assert not error.retryable
    assert error.status == status


@pytest.mark.parametrize("status", [401, 403, 404, 429, 500, 502, 503, 504])
def test_other_statuses_are_retried(status: int) -> None:
    error = error_for_status(status, "busy", None)
    assert isinstance(error, InfluxUnavailable)
    assert error.retryable


def test_retry_after_is_carried_in_seconds() -> None:
    assert error_for_status(429, "slow down", "3").retry_after == 3.0
    assert error_for_status(503, "down", None).retry_after is None


def test_a_quoted_line_is_cut_from_the_error_so_no_patient_data_reaches_a_log() -> None:
    message = (
        "partial write: unable to parse 'vitals,patient_id=pt-7f3a9c heart_rate=bad "
        "1795430343618707033': invalid boolean dropped=0"
    )
    redacted = redact(message)
    assert "pt-7f3a9c" not in redacted
    assert redacted == "partial write: unable to parse <line>: invalid boolean dropped=0"
    error = error_for_status(400, message, None)
    assert "pt-7f3a9c" not in str(error)


def test_the_api_version_chooses_the_writer() -> None:
    assert isinstance(create_writer(InfluxSettings(api_version=1)), V1Writer)
    assert isinstance(create_writer(InfluxSettings(api_version=2)), V2Writer)
