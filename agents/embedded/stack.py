"""Both embedded services together, and the settings a worker needs to reach them."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from agents.embedded.broker import EmbeddedBroker
from agents.embedded.influx import EmbeddedInfluxDB
from agents.startstop import StartStop

#: Consumer fetch wait on the embedded broker, ms: a hop of about 6 ms at the median instead
#: of about 370 ms at Faust's 1,500. The price is polling: an idle worker and Tansu together
#: take about 19 % of a core at 20 ms against 4 % at 500 (``docs/performance.md``).
FETCH_MAX_WAIT_MS = 20


class EmbeddedStack(StartStop):
    """Tansu and InfluxDB in one temporary directory; removed on exit unless ``keep``."""

    def __init__(self, root: Path | None = None, *, keep: bool = False) -> None:
        self._own_root = root is None
        self.root = root or Path(tempfile.mkdtemp(prefix="detoxmon-"))
        self.keep = keep
        self.broker = EmbeddedBroker(self.root / "kafka")
        self.influx = EmbeddedInfluxDB(self.root / "influxdb")

    def start(self) -> None:
        """Start both services; stop whatever started if the other fails."""
        try:
            self.broker.start()
            self.influx.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop both services and remove the directory unless asked to keep it."""
        self.influx.stop()
        self.broker.stop()
        if self._own_root and not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def env(self) -> dict[str, str]:
        """``DETOXMON_*`` variables that point a worker or gateway at these services.

        Tansu answers an empty fetch only when the consumer's fetch wait expires, so a short
        one (:data:`FETCH_MAX_WAIT_MS`) keeps each hop between agents short.
        """
        return {
            "DETOXMON_KAFKA__BROKER_URL": self.broker.url,
            "DETOXMON_KAFKA__FETCH_MAX_WAIT_MS": str(FETCH_MAX_WAIT_MS),
            "DETOXMON_INFLUX__URL": self.influx.url,
            "DETOXMON_INFLUX__API_VERSION": "1",
        }
