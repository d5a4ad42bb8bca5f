"""The ``detoxmon`` command: Faust's own CLI (``detoxmon worker``) plus the project's commands."""

from __future__ import annotations

from typing import NoReturn

# Importing the agent modules registers the agents and commands with the app.
from agents import commands, evaluate, health, validate  # noqa: F401
from agents.app import app
from agents.bench import cli as bench_cli  # noqa: F401
from agents.engine_cli import replay  # noqa: F401
from agents.influx import cli as influx_cli  # noqa: F401
from agents.influx import sink  # noqa: F401
from agents.ingest import dlq_cli, http, mllp, validate_cli  # noqa: F401
from agents.pager import agent  # noqa: F401
from agents.pager import commands as pager_commands  # noqa: F401
from agents.report import cli as report_cli  # noqa: F401


def main() -> NoReturn:
    """Entry point of the ``detoxmon`` console script."""
    app.main()


if __name__ == "__main__":
    main()
