"""Ground-truth episodes as JSON, so ``detoxmon report`` can score a run it did not simulate.

``streams.ward.Episode`` is a plain dataclass owned by the simulator; the file format lives
here with its only reader. Times are ISO 8601 with an offset; the kind must be one the
simulator knows, so a typo fails loudly instead of scoring as a new kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from schemas.common import PatientId
from streams.ward import Episode, EpisodeKind


class _EpisodeRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    patient_id: PatientId
    kind: EpisodeKind
    start: AwareDatetime
    end: AwareDatetime


class _EpisodeFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["episodes"] = "episodes"
    schema_version: Literal[1] = 1
    episodes: list[_EpisodeRecord]


def episodes_to_json(episodes: Sequence[Episode]) -> str:
    """Episodes as one JSON document (indented, so a reviewer can read and diff it)."""
    document = _EpisodeFile(
        episodes=[
            _EpisodeRecord(patient_id=e.patient_id, kind=e.kind, start=e.start, end=e.end)
            for e in episodes
        ]
    )
    return document.model_dump_json(indent=2) + "\n"


def episodes_from_json(text: str | bytes) -> list[Episode]:
    """Parse what :func:`episodes_to_json` wrote; raises ``pydantic.ValidationError`` if not."""
    document = _EpisodeFile.model_validate_json(text)
    return [Episode(r.patient_id, r.kind, r.start, r.end) for r in document.episodes]


def write_episodes(path: Path, episodes: Sequence[Episode]) -> Path:
    """Write episodes to ``path`` (UTF-8) and return it."""
    path.write_text(episodes_to_json(episodes), encoding="utf-8")
    return path


def read_episodes(path: Path) -> list[Episode]:
    """Read an episodes file."""
    return episodes_from_json(path.read_bytes())
