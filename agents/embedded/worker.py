"""A ``detoxmon worker`` in a child process, for the demo and the integration tests."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from agents.embedded.process import ManagedProcess, free_port


class WorkerProcess:
    """A worker pointed at ``env`` (``DETOXMON_*`` variables), healthy once its web port answers.

    An answering port means the process is up, not that it has joined the consumer group or
    recovered its tables: Faust starts the web server before both. A caller that needs a
    joined, recovered worker waits for ``Ready`` in the log as well
    (``tests/integration/test_pager_delivery.py`` does).
    """

    def __init__(self, workdir: Path, env: Mapping[str, str], *, name: str = "worker") -> None:
        self.workdir = workdir
        self.web_port = free_port()
        full_env = {
            **os.environ,
            **env,
            "DETOXMON_WEB__PORT": str(self.web_port),
            "DETOXMON_DATA_DIR": str(workdir / "state"),
            "PYTHONUNBUFFERED": "1",
        }
        self.process = ManagedProcess(
            name,
            [sys.executable, "-m", "agents.cli", "worker", "--loglevel", "info"],
            log_path=workdir / f"{name}.log",
            env=full_env,
            cwd=workdir,
        )

    @property
    def url(self) -> str:
        """Base URL of the worker's web server."""
        return f"http://127.0.0.1:{self.web_port}"

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/", timeout=1):  # noqa: S310
                return True
        except urllib.error.HTTPError:
            return True  # any HTTP answer means the server is up
        except (urllib.error.URLError, OSError):
            return False

    def start(self, *, timeout_s: float = 60.0) -> None:
        """Start the worker and wait until it serves HTTP."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process.start()
        self.process.wait_healthy(self._answers, timeout_s=timeout_s)

    def stop(self) -> int | None:
        """Stop the worker (SIGTERM lets Faust commit offsets and leave the group)."""
        return self.process.stop(timeout_s=20.0)
