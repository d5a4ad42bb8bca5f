"""The framework ceiling: a Faust agent that only consumes the inbound topic.

Whatever the pipeline does per event, it cannot go faster than Faust delivers events to one
agent, so the benchmark runs this app on the same preloaded messages and reports the pipeline
as a share of it. It is a separate app (own app id, so its own consumer group) with the raw
serializer: no decoding, no sends, no tables. Run by the benchmark as
``python -m agents.bench.ceiling worker``, configured through ``DETOXMON_BENCH_*`` variables;
it writes the times it reached 10 %, 90 % and 100 % of the expected count to a JSON file.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import faust

from streams import topics

EXPECTED = int(os.environ.get("DETOXMON_BENCH_EXPECTED", "0"))
#: The worker's session timeout, so both wait the same time to join their groups.
SESSION_TIMEOUT_S = float(os.environ.get("DETOXMON_BENCH_SESSION_TIMEOUT_S", "6"))
RESULT = Path(os.environ.get("DETOXMON_BENCH_RESULT", "ceiling.json"))

app = faust.App(
    os.environ.get("DETOXMON_BENCH_APP_ID", "detoxmon-bench-ceiling"),
    broker=os.environ.get("DETOXMON_BENCH_BROKER", "kafka://127.0.0.1:9092"),
    store="memory://",
    datadir=os.environ.get("DETOXMON_BENCH_DATADIR", ".detoxmon-bench-ceiling"),
    consumer_auto_offset_reset="earliest",
    broker_session_timeout=SESSION_TIMEOUT_S,
    broker_heartbeat_interval=min(3.0, SESSION_TIMEOUT_S / 3),
    web_bind="127.0.0.1",
    web_host="127.0.0.1",
    web_port=int(os.environ.get("DETOXMON_BENCH_WEB_PORT", "6067")),
    autodiscover=False,
)

readings_topic = app.topic(
    topics.READINGS, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
)


class Marks:
    """Wall-clock times at which the count reached 10 %, 90 % and all of ``expected``."""

    def __init__(self, expected: int, result: Path) -> None:
        self.expected = expected
        self.result = result
        self.count = 0
        self.first: float | None = None
        self.marks: dict[str, float] = {}

    def tick(self) -> None:
        """Count one event; write the result file when the last one arrives."""
        now = time.time()
        self.count += 1
        if self.first is None:
            self.first = now
        for name, share in (("p10", 0.1), ("p90", 0.9), ("done", 1.0)):
            if name not in self.marks and self.count >= share * self.expected:
                self.marks[name] = now
        if self.count == self.expected:
            partial = self.result.with_suffix(".tmp")
            partial.write_text(json.dumps({"count": self.count, "first": self.first, **self.marks}))
            partial.replace(self.result)


@app.agent(readings_topic)
async def consume(stream: faust.StreamT[bytes]) -> None:
    """Only count: the cheapest agent Faust can run."""
    marks = Marks(EXPECTED, RESULT)
    async for _value in stream:
        marks.tick()


if __name__ == "__main__":
    app.main()
