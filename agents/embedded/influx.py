"""The embedded InfluxDB: Debian's ``influxd`` (1.6.7, v1 API), run unprivileged.

The config comes from the installed binary itself (``influxd config``) so it always matches
its version; we only move every path into a temporary directory, bind HTTP and RPC to free
loopback ports and turn off reporting and self-monitoring.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from agents.embedded.process import ManagedProcess, ServiceStartError, free_port

_SECTION = re.compile(r"^\s*\[+\s*([A-Za-z_]+)\s*\]+\s*$")


def influxd_binary() -> str:
    """Path of ``influxd``; a clear error says how to install it."""
    path = shutil.which("influxd")
    if path is None:
        raise ServiceStartError(
            "influxd not found: install Debian's 'influxdb' package "
            "(apt-get update && apt-get install -y influxdb), or run 'make' which does it"
        )
    return path


def render_config(default_config: str, *, root: Path, http_port: int, rpc_port: int) -> str:
    """Rewrite ``influxd config`` output for an unprivileged, loopback-only instance."""
    out: list[str] = []
    section = ""
    for line in default_config.splitlines():
        match = _SECTION.match(line)
        if match:
            section = match.group(1)
        stripped = line.strip()
        line = line.replace("/var/lib/influxdb", str(root))
        if stripped.startswith("bind-address"):
            if section == "":
                line = f'bind-address = "127.0.0.1:{rpc_port}"'
            elif section == "http":
                line = f'  bind-address = "127.0.0.1:{http_port}"'
        elif stripped.startswith("reporting-enabled"):
            line = "reporting-enabled = false"
        elif section == "monitor" and stripped.startswith("store-enabled"):
            line = "  store-enabled = false"
        elif section == "http" and stripped.startswith("suppress-write-log"):
            line = "  suppress-write-log = true"
        elif section == "logging" and stripped.startswith("suppress-logo"):
            line = "  suppress-logo = true"
        out.append(line)
    return "\n".join(out) + "\n"


class EmbeddedInfluxDB:
    """InfluxDB 1.x on free loopback ports with its data in ``workdir``."""

    def __init__(self, workdir: Path, *, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.rpc_port = free_port()
        self.config_path = workdir / "influxdb.conf"
        self.process = ManagedProcess(
            "influxd",
            [influxd_binary(), "-config", str(self.config_path)],
            log_path=workdir / "influxd.log",
            cwd=workdir,
        )

    @property
    def url(self) -> str:
        """Base URL of the HTTP API."""
        return f"http://127.0.0.1:{self.port}"

    def ping(self) -> bool:
        """Whether ``/ping`` answers 204."""
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as response:  # noqa: S310
                return bool(response.status == 204)
        except (urllib.error.URLError, OSError):
            return False

    def start(self, *, timeout_s: float = 30.0) -> None:
        """Write the config, start ``influxd`` and wait for ``/ping``."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        default = subprocess.run(  # noqa: S603 - fixed argv
            [influxd_binary(), "config"], capture_output=True, text=True, check=True
        ).stdout
        self.config_path.write_text(
            render_config(
                default, root=self.workdir / "data", http_port=self.port, rpc_port=self.rpc_port
            )
        )
        self.process.start()
        self.process.wait_healthy(self.ping, timeout_s=timeout_s)

    def stop(self) -> None:
        """Stop ``influxd``; its data stays in ``workdir`` until that is removed."""
        self.process.stop()
