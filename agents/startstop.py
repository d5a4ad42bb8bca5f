"""``with`` support for the project's services: anything with ``start()`` and ``stop()``.

Embedded services, the demo's board and the benchmark's page recorder all start on entry and
stop on exit, whatever the exit; one base class keeps that in one place.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self


class StartStop(ABC):
    """Base for objects used as ``with obj:``: ``start()`` on entry, ``stop()`` on any exit."""

    @abstractmethod
    def start(self) -> None:
        """Start; called on entering the ``with`` block."""

    @abstractmethod
    def stop(self) -> object:
        """Stop; called on leaving the ``with`` block, also after an exception."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
