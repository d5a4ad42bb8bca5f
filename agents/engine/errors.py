"""The engine's exceptions.

::

    EngineError
     └── ConfigFileError (also a ValueError): a rules or rule-test file is invalid
          ├── RulesFileError
          └── RuleTestFileError

A file error names the file, the line and, where there is one, the rule, so the person who
edited the file can go straight to the mistake (as ``promtool check rules`` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class EngineError(Exception):
    """Root of the engine's exceptions."""


@dataclass(frozen=True)
class Problem:
    """One mistake in a file: where it is and what is wrong."""

    line: int | None
    message: str
    rule_id: str | None = None
    location: str = ""

    def render(self, path: Path | str) -> str:
        """``file:line: rule 'id': location: message``."""
        parts = [f"{path}:{self.line}" if self.line is not None else str(path)]
        if self.rule_id is not None:
            parts.append(f"rule {self.rule_id!r}")
        if self.location:
            parts.append(self.location)
        parts.append(self.message)
        return ": ".join(parts)


class ConfigFileError(EngineError, ValueError):
    """A YAML file the engine reads is invalid; ``problems`` lists every mistake found."""

    def __init__(self, path: Path | str, problems: list[Problem]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(problem.render(path) for problem in problems))


class RulesFileError(ConfigFileError):
    """The rules file is invalid; the worker refuses to start with it."""


class RuleTestFileError(ConfigFileError):
    """A rule unit-test file is invalid."""
