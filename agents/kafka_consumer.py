"""Faust's aiokafka transport with a configurable consumer fetch wait.

faust-streaming 0.15.3 builds the worker's consumer with ``fetch_max_wait_ms=1500`` written
into ``AIOKafkaConsumerThread._create_worker_consumer``
(``faust/transport/drivers/aiokafka.py``, lines 568-630; the literal is on line 615), and no
setting reaches it. On Apache Kafka the wait costs nothing while data flows (the broker answers
as soon as ``fetch_min_bytes``, 1, is there). The embedded Tansu broker answers an empty fetch
only when the wait expires, so every hop between two agents costs up to 1.5 s and about 373 ms
at the median: a reading crosses two or three hops before it alerts or pages.

This module is hand-written because there is nothing to configure: it subclasses the three
classes involved, each by its documented extension point, and changes one value.

- :class:`FetchWaitConsumerThread` calls Faust's own ``_create_worker_consumer`` (so every
  other argument stays Faust's) and then sets ``_fetch_max_wait_ms`` on the
  ``AIOKafkaConsumer`` it returns. aiokafka 0.14 stores the argument there in
  ``AIOKafkaConsumer.__init__`` (``aiokafka/consumer/consumer.py``, line 330) and reads it only
  in ``start()``, when it builds the ``Fetcher`` (line 391); Faust calls ``start()`` right after
  creating the consumer (``AIOKafkaConsumerThread.on_start``), so the new value is the one the
  fetcher uses.
- :class:`FetchWaitConsumer` creates that thread (``Consumer._new_consumer_thread``).
- :class:`FetchWaitTransport` names that consumer (``Transport.Consumer``) and carries the
  wait. :func:`use_fetch_wait` installs it as the app's consumer transport (``App.transport``
  has a setter; Faust builds one lazily from the broker URL otherwise). Producers are
  untouched.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

import aiokafka  # type: ignore[import-untyped]
import faust
from faust.transport.drivers import aiokafka as faust_aiokafka


class FetchWaitConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread, with the transport's fetch wait instead of 1,500 ms."""

    def _create_worker_consumer(
        self, transport: faust_aiokafka.Transport
    ) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        wait_ms = getattr(transport, "fetch_max_wait_ms", None)
        if wait_ms is not None:
            consumer._fetch_max_wait_ms = int(wait_ms)
        return consumer


class FetchWaitConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer running :class:`FetchWaitConsumerThread`."""

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return FetchWaitConsumerThread(self, loop=self.loop, beacon=self.beacon)


class FetchWaitTransport(faust_aiokafka.Transport):
    """Faust's aiokafka transport whose worker consumer waits ``fetch_max_wait_ms`` at most."""

    Consumer: ClassVar[type[Any]] = FetchWaitConsumer

    def __init__(self, *args: Any, fetch_max_wait_ms: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fetch_max_wait_ms = fetch_max_wait_ms


def use_fetch_wait(app: faust.App, fetch_max_wait_ms: int) -> None:
    """Make ``app``'s consumer wait at most ``fetch_max_wait_ms`` for a fetch to fill.

    Call before anything starts the app's consumer (``create_app`` does, at import).
    """
    app.transport = FetchWaitTransport(
        cast(Any, app.conf).broker_consumer, app, fetch_max_wait_ms=fetch_max_wait_ms
    )
