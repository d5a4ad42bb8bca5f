"""The embedded services start healthy on loopback and leave no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from agents.embedded import EmbeddedBroker, EmbeddedInfluxDB, ManagedProcess, ServiceStartError
from agents.embedded.influx import render_config
from agents.embedded.process import port_open

pytestmark = pytest.mark.integration


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    status = Path(f"/proc/{pid}/status").read_text()
    return "State:\tZ" not in status


def test_broker_and_influxdb_start_on_free_loopback_ports_and_stop(tmp_path: Path) -> None:
    broker = EmbeddedBroker(tmp_path / "kafka")
    influx = EmbeddedInfluxDB(tmp_path / "influx")
    broker.start()
    influx.start()
    pids = [broker.process.pid, influx.process.pid]
    try:
        assert port_open(broker.port)
        assert influx.ping()
        config = (tmp_path / "influx" / "influxdb.conf").read_text()
        assert "/var/lib/influxdb" not in config
        assert f'bind-address = "127.0.0.1:{influx.port}"' in config
    finally:
        broker.stop()
        influx.stop()
    assert not port_open(broker.port)
    assert not influx.ping()
    assert not any(alive(pid) for pid in pids if pid is not None)


def test_children_die_with_a_parent_that_is_killed(tmp_path: Path) -> None:
    """A test run killed by a timeout must not leave a broker behind (PR_SET_PDEATHSIG)."""
    pid_file = tmp_path / "broker.pid"
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from agents.embedded import EmbeddedBroker
        broker = EmbeddedBroker(Path({str(tmp_path / "kafka")!r}))
        broker.start()
        Path({str(pid_file)!r}).write_text(str(broker.process.pid))
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        broker_pid = int(pid_file.read_text())
        assert alive(broker_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while alive(broker_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(broker_pid)
    finally:
        parent.kill()


def test_a_service_that_dies_at_start_reports_its_log(tmp_path: Path) -> None:
    process = ManagedProcess(
        "failing",
        [sys.executable, "-c", "print('bad config'); raise SystemExit(3)"],
        log_path=tmp_path / "failing.log",
    )
    process.start()
    try:
        with pytest.raises(ServiceStartError, match="bad config"):
            process.wait_healthy(lambda: False, timeout_s=10)
    finally:
        process.stop()


def test_a_process_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    process = ManagedProcess(
        "stubborn",
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)",
        ],
        log_path=tmp_path / "stubborn.log",
    )
    process.start()
    pid = process.pid
    time.sleep(0.3)
    process.stop(timeout_s=1)
    assert pid is not None
    assert not alive(pid)


def test_render_config_moves_paths_and_binds_loopback() -> None:
    default = textwrap.dedent(
        """\
        reporting-enabled = true
        bind-address = "127.0.0.1:8088"
        [meta]
          dir = "/var/lib/influxdb/meta"
        [http]
          bind-address = ":8086"
        [[graphite]]
          bind-address = ":2003"
        """
    )
    rendered = render_config(default, root=Path("/tmp/x"), http_port=1234, rpc_port=5678)
    assert 'bind-address = "127.0.0.1:5678"' in rendered
    assert 'bind-address = "127.0.0.1:1234"' in rendered
    assert 'bind-address = ":2003"' in rendered  # disabled listeners untouched
    assert 'dir = "/tmp/x/meta"' in rendered
    assert "reporting-enabled = false" in rendered
