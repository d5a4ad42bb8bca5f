"""Checking the pager's configuration when a worker starts, before it joins the group.

Faust lets an app name its ``Worker`` class; the pager's loads the routing file and secrets
(:func:`load_runtime`) on its first start and stops the worker, naming every problem, if they
are unusable. Other commands (``detoxmon routing check``) never load them, so they can report
on a broken file instead of failing to start.
"""

from __future__ import annotations

import logging

import faust

from agents.app import app, settings
from agents.pager.errors import RoutingError
from agents.pager.runtime import PagerRuntime, load_runtime

log = logging.getLogger(__name__)

_runtime: PagerRuntime | None = None


def current_runtime() -> PagerRuntime:
    """The pager's configuration, loaded on first use (the worker loads it at start)."""
    global _runtime
    if _runtime is None:
        _runtime = load_runtime(settings.pager)
    return _runtime


def check_configuration() -> PagerRuntime:
    """Load the pager's configuration, logging why it is unusable before re-raising."""
    try:
        return current_runtime()
    except (RoutingError, ValueError) as exc:
        log.critical("pager configuration refused, the worker stops:\n%s", exc)
        raise


class PagerCheckedWorker(faust.Worker):
    """Faust's worker, refusing to start with an unusable pager configuration."""

    async def on_first_start(self) -> None:
        """Start as usual (logging is set up there), then load the pager's configuration."""
        await super().on_first_start()
        runtime = check_configuration()
        log.info(
            "pager routing from %s; %d receivers",
            runtime.routing.source,
            len(runtime.routing.receivers),
        )


def install(target: faust.App = app) -> None:
    """Make ``target``'s ``worker`` command check the pager's configuration first.

    Sets the app's ``Worker`` setting without reading it (reading it first would make faust
    warn about late reconfiguration); nothing else in the project sets it.
    """
    # faust types the setting as a bare Type[_WorkerT], which mypy cannot assign to.
    target.conf.Worker = PagerCheckedWorker  # type: ignore[assignment]
