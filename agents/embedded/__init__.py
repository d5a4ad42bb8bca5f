"""Embedded services for the demo and the tests: the Tansu broker and InfluxDB 1.x.

Each starts on a free loopback port in a temporary directory, is health-checked before use,
and is stopped (with its whole process group) on exit, on error, or when this process dies.
"""

from agents.embedded.broker import EmbeddedBroker
from agents.embedded.influx import EmbeddedInfluxDB
from agents.embedded.process import ManagedProcess, ServiceStartError, free_port
from agents.embedded.stack import EmbeddedStack

__all__ = [
    "EmbeddedBroker",
    "EmbeddedInfluxDB",
    "EmbeddedStack",
    "ManagedProcess",
    "ServiceStartError",
    "free_port",
]
