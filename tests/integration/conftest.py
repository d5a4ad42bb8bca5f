"""Fixtures shared by the integration tests of workers joining, leaving and recovering."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.embedded import EmbeddedStack
from agents.embedded.worker import WorkerProcess
from tests.support.recording_server import RecordingServer, recording_server


@pytest.fixture
def paging_pair(
    stack: EmbeddedStack, tmp_path: Path
) -> Iterator[tuple[RecordingServer, WorkerProcess, WorkerProcess]]:
    """Two workers of one group paging the same recording server at two receiver URLs."""
    with recording_server() as pager:
        env = {
            **stack.env(),
            "DETOXMON_PAGER__WEBHOOK_URLS": json.dumps([f"{pager.url}/1", f"{pager.url}/2"]),
            "DETOXMON_PAGER__MAX_BACKOFF_S": "1",
            "DETOXMON_KAFKA__TOPIC_PARTITIONS": "4",
            "DETOXMON_KAFKA__SESSION_TIMEOUT_S": "6",
            "DETOXMON_INFLUX__FLUSH_INTERVAL_S": "0.2",
        }
        first = WorkerProcess(tmp_path / "a", env, name="worker-a")
        second = WorkerProcess(tmp_path / "b", env, name="worker-b")
        try:
            yield pager, first, second
        finally:
            second.stop()
            first.stop()
