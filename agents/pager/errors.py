"""The pager's exceptions.

::

    PagerError
    ├── RoutingError     the routing file (or a secret it names) is invalid; lists every problem
    └── DeliveryError    one attempt to notify failed; ``retryable`` says if trying again may help
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class PagerError(Exception):
    """Root of the pager's errors."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a routing file, located by line, column and path in the document."""

    path: str
    message: str
    line: int | None = None
    column: int | None = None

    def render(self, file: str) -> str:
        """``file:line:column: path: message``, as compilers and promtool print errors."""
        where = file if self.line is None else f"{file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class RoutingError(PagerError, ValueError):
    """The routing file cannot be used; ``problems`` lists everything found, in file order."""

    def __init__(self, file: str, problems: Sequence[Problem]) -> None:
        self.file = file
        self.problems = tuple(problems)
        lines = "\n".join(f"  {problem.render(file)}" for problem in self.problems)
        count = len(self.problems)
        super().__init__(
            f"invalid routing file {file} ({count} problem{'s' if count != 1 else ''}):\n{lines}"
        )


class DeliveryError(PagerError):
    """A delivery attempt failed; ``retryable`` says whether trying again may succeed."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
