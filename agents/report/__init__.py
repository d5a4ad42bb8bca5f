"""A self-contained HTML report of a run: per-patient charts, detection and alert burden.

``detoxmon demo --report DIR`` and ``detoxmon replay --report DIR`` call :func:`write_report`;
``detoxmon report`` builds the same page from files (:mod:`agents.report.cli`).

The page builder imports Plotly, which the worker never needs, while ``agents.cli`` imports
this package for its command. So the builder is loaded on first use (PEP 562), and the
worker's start-up neither pays for Plotly nor depends on it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from agents.report.episodes import (
    episodes_from_json,
    episodes_to_json,
    read_episodes,
    write_episodes,
)

if TYPE_CHECKING:
    from agents.report.page import render_report, write_report

__all__ = [
    "episodes_from_json",
    "episodes_to_json",
    "read_episodes",
    "render_report",
    "write_episodes",
    "write_report",
]

_LAZY = {"render_report": "agents.report.page", "write_report": "agents.report.page"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
