"""The webhook signature: what receivers must check."""

from __future__ import annotations

import hashlib
import hmac

from agents.pager.webhook import sign, verify

SECRET = b"s3cret"
BODY = b'{"kind":"alert"}'


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET, b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, "1700000000", BODY) == f"v1={expected}"


def test_a_valid_recent_signature_verifies() -> None:
    signature = sign(SECRET, "1700000000", BODY)
    assert verify(SECRET, "1700000000", BODY, signature, now=1700000100)


def test_a_changed_body_wrong_secret_or_old_timestamp_fails() -> None:
    signature = sign(SECRET, "1700000000", BODY)
    assert not verify(SECRET, "1700000000", BODY + b" ", signature, now=1700000000)
    assert not verify(b"other", "1700000000", BODY, signature, now=1700000000)
    assert not verify(SECRET, "1700000000", BODY, signature, now=1700000301)
    assert not verify(SECRET, "not-a-number", BODY, signature, now=1700000000)
