"""Dead-letter record: a rejected message, its original bytes and why it was rejected."""

from __future__ import annotations

import base64
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class DeadLetter(BaseModel):
    """A message the pipeline refused, kept whole so a gateway engineer can fix and replay it."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="DeadLetter")

    kind: Literal["dead_letter"] = "dead_letter"
    schema_version: Literal[1] = 1
    original_b64: str = Field(description="The message's original bytes, base64-encoded.")
    original_key_b64: str | None = Field(default=None, description="Original key, base64.")
    path: str = Field(description="Where it came in, e.g. 'kafka:detoxmon.readings.v1'.")
    reason: str = Field(description="Short, stable reason code, e.g. 'invalid_json'.")
    detail: str = Field(description="What exactly was wrong, for the gateway engineer.")
    received_at: AwareDatetime
    partition: int | None = None
    offset: int | None = None
    content_type: str | None = Field(
        default=None,
        description="The message's content type (HTTP Content-Type, Kafka 'content-type' "
        "header), so a replay is converted as the original was; None: native JSON.",
    )

    @classmethod
    def of(
        cls,
        original: bytes,
        *,
        key: bytes | None,
        path: str,
        reason: str,
        detail: str,
        received_at: AwareDatetime,
        partition: int | None = None,
        offset: int | None = None,
        content_type: str | None = None,
    ) -> DeadLetter:
        """Build a record from the raw message."""
        return cls(
            original_b64=base64.b64encode(original).decode("ascii"),
            original_key_b64=base64.b64encode(key).decode("ascii") if key is not None else None,
            path=path,
            reason=reason,
            detail=detail,
            received_at=received_at,
            partition=partition,
            offset=offset,
            content_type=content_type,
        )

    def original(self) -> bytes:
        """The original message bytes."""
        return base64.b64decode(self.original_b64)
