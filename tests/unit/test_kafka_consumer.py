"""The worker's consumer takes its fetch wait from the settings, not Faust's 1,500 ms."""

from __future__ import annotations

import faust

from agents.kafka_consumer import FetchWaitConsumerThread, FetchWaitTransport, use_fetch_wait


async def test_the_worker_consumer_waits_the_configured_time() -> None:
    app = faust.App("detoxmon-fetch-wait-test", broker="kafka://127.0.0.1:9", autodiscover=False)
    use_fetch_wait(app, 20)
    assert isinstance(app.transport, FetchWaitTransport)
    thread = app.consumer._thread  # type: ignore[attr-defined]
    assert isinstance(thread, FetchWaitConsumerThread)
    consumer = thread._create_worker_consumer(app.transport)
    try:
        assert consumer._fetch_max_wait_ms == 20
        assert consumer._group_id == "detoxmon-fetch-wait-test"  # Faust's other arguments stay
    finally:
        await consumer.stop()


def test_the_app_uses_the_setting() -> None:
    from agents.app import app, settings

    assert isinstance(app.transport, FetchWaitTransport)
    assert app.transport.fetch_max_wait_ms == settings.kafka.fetch_max_wait_ms
