"""Dead letters of the ingest paths: writing them, reading them back, counting and replaying them.

A rejected part of a message is dead-lettered with the *whole* original bytes, so a replay
resubmits the message exactly as the gateway sent it; the record says where it came in
(``path``), why (``reason``, ``detail``) and, for replay, its ``content_type``. Three facts the
:class:`~schemas.DeadLetter` model has no field for travel as Kafka headers of the record,
as Kafka Connect's dead-letter queues carry their error context:

- ``detoxmon-gateway``: the gateway that sent it (HTTP, MLLP, or a replay of either);
- ``detoxmon-location``: the rejected part, e.g. ``Bundle.entry[3]`` (also in the detail);
- ``detoxmon-replay-of``: ``topic:partition:offset`` of the dead letter a replay came from.

A replay carries the same ``detoxmon-gateway`` and ``detoxmon-replay-of`` headers on the
inbound topic, with the original ``content-type``, so the Kafka path converts and scopes the
message as the original path did and a new rejection names the letter it replays.

The reading side uses aiokafka directly, without a consumer group, like an operator's tool:
listing the dead letters commits nothing and disturbs no worker.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
import time
from collections import Counter
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # type: ignore[import-untyped]
from faust.types import RecordMetadata
from pydantic import ValidationError

from agents.app import dead_letter_topic
from agents.ingest.formats import Rejection
from agents.settings import KafkaSettings
from schemas import DeadLetter
from streams import topics
from streams.offsets import end_offsets
from streams.producer import bootstrap_servers

log = logging.getLogger(__name__)

GATEWAY_HEADER = "detoxmon-gateway"
LOCATION_HEADER = "detoxmon-location"
REPLAY_OF_HEADER = "detoxmon-replay-of"
CONTENT_TYPE_HEADER = "content-type"


@dataclass(frozen=True)
class Origin:
    """Where a message came in: recorded on its dead letters, and the scope it is judged by."""

    path: str
    key: bytes | None = None
    content_type: str | None = None
    gateway_id: str | None = None
    partition: int | None = None
    offset: int | None = None
    replay_of: str | None = None


def letter_for(
    raw: bytes, origin: Origin, rejection: Rejection, *, received_at: datetime
) -> DeadLetter:
    """The dead letter of one rejected part of ``raw``."""
    detail = f"{rejection.location}: {rejection.detail}" if rejection.location else rejection.detail
    return DeadLetter.of(
        raw,
        key=origin.key,
        path=origin.path,
        reason=rejection.reason,
        detail=detail,
        received_at=received_at,
        partition=origin.partition,
        offset=origin.offset,
        content_type=origin.content_type,
    )


def letter_headers(origin: Origin, rejection: Rejection) -> list[tuple[str, bytes]]:
    """The Kafka headers of a dead letter (see the module docstring)."""
    headers = [
        (GATEWAY_HEADER, origin.gateway_id),
        (LOCATION_HEADER, rejection.location),
        (REPLAY_OF_HEADER, origin.replay_of),
    ]
    return [(name, value.encode()) for name, value in headers if value is not None]


async def send_dead_letter(
    raw: bytes, origin: Origin, rejection: Rejection, *, received_at: datetime
) -> Awaitable[RecordMetadata]:
    """Produce the dead letter; await the result to wait for the broker's acknowledgement.

    The log line carries where and why, never the message (it may hold patient data).
    """
    letter = letter_for(raw, origin, rejection, received_at=received_at)
    log.warning(
        "dead-lettered path=%s gateway=%s partition=%s offset=%s reason=%s location=%s",
        origin.path,
        origin.gateway_id,
        origin.partition,
        origin.offset,
        rejection.reason,
        rejection.location,
    )
    return await dead_letter_topic.send(
        key=origin.key,
        value=letter.model_dump_json().encode(),
        headers=letter_headers(origin, rejection),
    )


def client_options(kafka: KafkaSettings) -> dict[str, Any]:
    """aiokafka connection options for the configured broker and security protocol."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers(kafka.broker_url),
        "security_protocol": kafka.security_protocol,
    }
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        cafile = str(kafka.ssl_cafile) if kafka.ssl_cafile else None
        options["ssl_context"] = ssl.create_default_context(cafile=cafile)
    if kafka.security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = kafka.sasl_mechanism
        options["sasl_plain_username"] = kafka.sasl_username
        if kafka.sasl_password is not None:
            options["sasl_plain_password"] = kafka.sasl_password.get_secret_value()
    return options


@dataclass(frozen=True)
class StoredLetter:
    """A dead letter read back from its topic, with its position and headers."""

    letter: DeadLetter
    topic: str
    partition: int
    offset: int
    gateway: str | None
    location: str | None
    replay_of: str | None

    @property
    def ref(self) -> str:
        """``topic:partition:offset``, how a replay names it."""
        return f"{self.topic}:{self.partition}:{self.offset}"


@dataclass(frozen=True)
class DeadLetterLog:
    """Everything on the dead-letter topic: readable letters, and a count of the rest."""

    letters: list[StoredLetter]
    unreadable: int


def header_value(headers: Any, name: str) -> str | None:
    """A Kafka header's value as text; ``headers`` as Faust or aiokafka give them.

    That is a sequence of ``(name, bytes)`` pairs, or a mapping; header names are matched
    without regard to case.
    """
    items = headers.items() if isinstance(headers, Mapping) else headers or ()
    for key, value in items:
        key_text = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        if key_text.lower() == name and value is not None:
            raw = value if isinstance(value, bytes) else str(value).encode()
            return raw.decode("utf-8", errors="replace")
    return None


def _stored(record: Any) -> StoredLetter | None:
    try:
        letter = DeadLetter.model_validate_json(record.value or b"")
    except ValidationError:
        return None
    headers = record.headers
    return StoredLetter(
        letter=letter,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        gateway=header_value(headers, GATEWAY_HEADER),
        location=header_value(headers, LOCATION_HEADER),
        replay_of=header_value(headers, REPLAY_OF_HEADER),
    )


async def read_dead_letters(
    kafka: KafkaSettings, *, topic: str = topics.DEAD_LETTER, timeout_s: float = 60.0
) -> DeadLetterLog:
    """Every record on ``topic`` from the beginning to the end offsets seen at the start.

    Raises:
        TimeoutError: the broker did not deliver up to the end offsets within ``timeout_s``.
    """
    consumer = AIOKafkaConsumer(
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **client_options(kafka),
    )
    try:
        await consumer.start()
        await consumer.topics()  # refreshes the metadata
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            return DeadLetterLog(letters=[], unreadable=0)
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        starts = await consumer.beginning_offsets(assigned)
        ends = await end_offsets(consumer, assigned)  # not the broker's: Tansu under-reports
        remaining = {tp for tp in assigned if ends[tp] > starts[tp]}
        for tp in assigned:
            # Explicitly: seek_to_beginning() after end_offsets() was seen to land at the end
            # (aiokafka 0.14 against Tansu).
            consumer.seek(tp, starts[tp])
        letters: list[StoredLetter] = []
        unreadable = 0
        deadline = time.monotonic() + timeout_s
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: not read to its end within {timeout_s:.0f} s")
            batch = await consumer.getmany(*remaining, timeout_ms=500)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        continue  # written after the start: the next listing counts it
                    stored = _stored(record)
                    if stored is None:
                        unreadable += 1
                    else:
                        letters.append(stored)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        letters.sort(key=lambda s: (s.letter.received_at, s.partition, s.offset))
        return DeadLetterLog(letters=letters, unreadable=unreadable)
    finally:
        await consumer.stop()


@dataclass(frozen=True)
class Summary:
    """Counts of dead letters, with no patient data: no ids, no keys, no bytes, no details."""

    total: int
    unreadable: int
    by_reason: dict[str, int]
    by_path: dict[str, int]
    by_gateway: dict[str, int]
    groups: list[tuple[str, str, str, int]]  # (reason, path, gateway, count)

    def as_json(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        return {
            "total": self.total,
            "unreadable": self.unreadable,
            "by_reason": self.by_reason,
            "by_path": self.by_path,
            "by_gateway": self.by_gateway,
            "groups": [
                {"reason": r, "path": p, "gateway": g, "count": n} for r, p, g, n in self.groups
            ],
        }


#: How a letter without a gateway (the Kafka path) is counted.
NO_GATEWAY = "-"


def summarise(dead_letters: DeadLetterLog) -> Summary:
    """Count the letters by reason, path and gateway, most frequent first."""

    def ranked(counter: Counter[str]) -> dict[str, int]:
        return dict(sorted(counter.items(), key=lambda item: (-item[1], item[0])))

    groups: Counter[tuple[str, str, str]] = Counter(
        (s.letter.reason, s.letter.path, s.gateway or NO_GATEWAY) for s in dead_letters.letters
    )
    return Summary(
        total=len(dead_letters.letters) + dead_letters.unreadable,
        unreadable=dead_letters.unreadable,
        by_reason=ranked(Counter(s.letter.reason for s in dead_letters.letters)),
        by_path=ranked(Counter(s.letter.path for s in dead_letters.letters)),
        by_gateway=ranked(Counter(s.gateway or NO_GATEWAY for s in dead_letters.letters)),
        groups=[
            (r, p, g, n)
            for (r, p, g), n in sorted(groups.items(), key=lambda item: (-item[1], item[0]))
        ],
    )


#: Paths whose messages were meant for the inbound topic; other agents' dead letters (an
#: observation InfluxDB refused, an alert the pager could not read) hold their own topics'
#: messages, which the inbound path would only refuse again.
INBOUND_PATHS = frozenset({"http:/ingest", "mllp", f"kafka:{topics.READINGS}"})


def select_for_replay(
    letters: Iterable[StoredLetter],
    *,
    reason: str | None = None,
    path: str | None = None,
    since: datetime | None = None,
) -> list[StoredLetter]:
    """The letters to resubmit: inbound ones only, one per original message.

    A letter that a later replay dead-lettered again is superseded by that later letter, and
    the rejected parts of one message (dead-lettered one by one) are resubmitted once, since
    each holds the whole message.
    """
    letters = list(letters)
    superseded = {s.replay_of for s in letters if s.replay_of}
    chosen: dict[tuple[str, str | None, str | None, str | None], StoredLetter] = {}
    for stored in letters:
        letter = stored.letter
        if stored.ref in superseded or letter.path not in INBOUND_PATHS:
            continue
        if reason is not None and letter.reason != reason:
            continue
        if path is not None and letter.path != path:
            continue
        if since is not None and letter.received_at < since:
            continue
        identity = (
            letter.original_b64,
            letter.original_key_b64,
            letter.content_type,
            stored.gateway,
        )
        chosen.setdefault(identity, stored)
    return list(chosen.values())


def original_key(letter: DeadLetter) -> bytes | None:
    """The original message's key, if it had one."""
    encoded = letter.original_key_b64
    return base64.b64decode(encoded) if encoded is not None else None


def replay_headers(stored: StoredLetter) -> list[tuple[str, bytes]]:
    """Inbound headers that make the Kafka path judge a replay as the original was judged."""
    headers = [
        (CONTENT_TYPE_HEADER, stored.letter.content_type),
        (GATEWAY_HEADER, stored.gateway),
        (REPLAY_OF_HEADER, stored.ref),
    ]
    return [(name, value.encode()) for name, value in headers if value is not None]


async def replay(
    kafka: KafkaSettings, letters: Sequence[StoredLetter], *, topic: str = topics.READINGS
) -> None:
    """Resubmit each letter's original bytes and key to ``topic``; wait for every ack (all)."""
    producer = AIOKafkaProducer(acks="all", **client_options(kafka))
    try:
        await producer.start()
        sends = [
            await producer.send(
                topic,
                value=stored.letter.original(),
                key=original_key(stored.letter),
                headers=replay_headers(stored),
            )
            for stored in letters
        ]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()
