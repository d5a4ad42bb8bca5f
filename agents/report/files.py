"""Reading a run back from JSON-lines files for ``detoxmon report``.

A line that is not a valid event (or alert) is skipped and counted by line number, never
echoed: the file may hold the simulator's deliberately malformed messages, which the
pipeline dead-letters too, and a line's content may be anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import ValidationError

from schemas import INBOUND_EVENT, Alert, InboundEvent

T = TypeVar("T")


@dataclass
class Loaded(Generic[T]):
    """What a file held: the valid records, and the line numbers of the others."""

    records: list[T] = field(default_factory=list)
    skipped_lines: list[int] = field(default_factory=list)


def _read_lines(path: Path, parse: Callable[[bytes], T]) -> Loaded[T]:
    loaded: Loaded[T] = Loaded()
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                loaded.records.append(parse(line))
            except ValidationError:
                loaded.skipped_lines.append(number)
    return loaded


def read_events(path: Path) -> Loaded[InboundEvent]:
    """Inbound contract events, one JSON object per line."""
    return _read_lines(path, INBOUND_EVENT.validate_json)


def read_alerts(path: Path) -> Loaded[Alert]:
    """Alert transitions, one JSON object per line (as ``detoxmon replay`` prints them)."""
    return _read_lines(path, Alert.model_validate_json)
