"""HL7 v2 over MLLP on a real worker and broker: framed messages over TCP, ACKs, dead letters."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas import DeadLetter
from streams import topics
from tests.support.hl7 import err_text, msa, oru_r01
from tests.support.ingest import (
    MAX_BODY_BYTES,
    IngestWorker,
    headers_of,
    ingest_worker,
    read_all,
)

pytestmark = pytest.mark.integration

START, END = b"\x0b", b"\x1c\x0d"


@pytest.fixture(scope="module")
def ingest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestWorker]:
    with ingest_worker(tmp_path_factory.mktemp("ingest-mllp")) as worker:
        yield worker


async def exchange(port: int, *frames: bytes) -> list[bytes]:
    """Send each (already framed) message on one connection; return the unframed ACKs."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    acks = []
    try:
        for data in frames:
            writer.write(data)
            await writer.drain()
            reply = await asyncio.wait_for(reader.readuntil(END), timeout=30)
            assert reply.startswith(START)
            acks.append(reply[1 : -len(END)])
    finally:
        writer.close()
        await writer.wait_closed()
    return acks


def framed(message: bytes) -> bytes:
    return START + message + END


async def letters_of(
    ingest: IngestWorker, original: bytes
) -> list[tuple[DeadLetter, dict[str, str]]]:
    records = await read_all(ingest.broker_url, topics.DEAD_LETTER)
    found = []
    for record in records:
        letter = DeadLetter.model_validate_json(record.value)
        if letter.original() == original:
            found.append((letter, headers_of(record)))
    return found


async def observed(ingest: IngestWorker, patient_id: str) -> list[dict[str, object]]:
    records = await read_all(ingest.broker_url, topics.OBSERVATIONS)
    return [json.loads(r.value) for r in records if r.key == patient_id.encode()]


async def test_a_good_oru_is_acknowledged_aa_once_its_event_is_on_the_broker(
    ingest: IngestWorker,
) -> None:
    message = oru_r01("pt-mllp-ok01", heart_rate=97, control_id="CTRL-OK-1")
    [ack] = await exchange(ingest.mllp_port, framed(message))
    assert msa(ack)[1:3] == ["AA", "CTRL-OK-1"]
    # read once, without polling: the ACK came after the broker's acknowledgement
    [event] = await observed(ingest, "pt-mllp-ok01")
    assert event["heart_rate"] == 97
    assert event["source"] == "hl7v2_gateway"
    assert event["received_at"] is not None


async def test_messages_on_one_connection_are_answered_in_order(ingest: IngestWorker) -> None:
    messages = [oru_r01(f"pt-mllp-seq{i}", control_id=f"CTRL-SEQ-{i}") for i in range(3)]
    noisy_first = b"\r\n" + framed(messages[0])  # line noise before a start block is dropped
    acks = await exchange(ingest.mllp_port, noisy_first, *(framed(m) for m in messages[1:]))
    assert [msa(ack)[1:3] for ack in acks] == [["AA", f"CTRL-SEQ-{i}"] for i in range(3)]


async def test_a_message_failing_the_contract_is_ae_with_its_reason_and_dead_lettered(
    ingest: IngestWorker,
) -> None:
    message = oru_r01("pt-mllp-bad01", heart_rate="fast", control_id="CTRL-AE-1")
    [ack] = await exchange(ingest.mllp_port, framed(message))
    assert msa(ack)[1:3] == ["AE", "CTRL-AE-1"]
    assert "invalid_value" in err_text(ack)
    [(letter, headers)] = await letters_of(ingest, message)
    assert (letter.path, letter.reason) == ("mllp", "invalid_value")
    assert letter.content_type == "x-application/hl7-v2+er7"
    assert headers["detoxmon-gateway"] == "mllp-engine"
    assert headers["detoxmon-location"] == "OBX[1]"
    assert await observed(ingest, "pt-mllp-bad01") == []


async def test_a_device_outside_the_mllp_gateways_scope_is_ae_out_of_scope(
    ingest: IngestWorker,
) -> None:
    message = oru_r01("pt-mllp-scope01", device_id="app-mllp-01", control_id="CTRL-SCOPE-1")
    [ack] = await exchange(ingest.mllp_port, framed(message))
    assert msa(ack)[1:3] == ["AE", "CTRL-SCOPE-1"]
    assert "out_of_scope" in err_text(ack)
    [(letter, _)] = await letters_of(ingest, message)
    assert letter.reason == "out_of_scope"
    assert await observed(ingest, "pt-mllp-scope01") == []


async def test_bytes_that_are_not_hl7_are_ar_and_dead_lettered(ingest: IngestWorker) -> None:
    garbage = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    [ack] = await exchange(ingest.mllp_port, framed(garbage))
    assert msa(ack)[1] == "AR"
    assert "invalid_hl7" in err_text(ack)
    [(letter, _)] = await letters_of(ingest, garbage)
    assert (letter.path, letter.reason) == ("mllp", "invalid_hl7")


async def test_a_message_over_the_limit_is_ar_and_the_connection_closed(
    ingest: IngestWorker,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", ingest.mllp_port)
    try:
        writer.write(START + b"MSH|" + b"x" * (MAX_BODY_BYTES + 10))
        await writer.drain()
        reply = await asyncio.wait_for(reader.readuntil(END), timeout=30)
        assert msa(reply[1 : -len(END)])[1] == "AR"
        assert await asyncio.wait_for(reader.read(), timeout=30) == b""  # closed by the worker
    finally:
        writer.close()
        await writer.wait_closed()
    # and the listener still serves the next connection
    [ack] = await exchange(ingest.mllp_port, framed(oru_r01("pt-mllp-after01")))
    assert msa(ack)[1] == "AA"
    assert ingest.worker.process.running()


def test_the_listener_binds_to_loopback_only(ingest: IngestWorker) -> None:
    listeners = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, port_hex = local.split(":")
        if int(port_hex, 16) == ingest.mllp_port and state == "0A":  # LISTEN
            listeners.append(address)
    assert listeners == ["0100007F"]  # 127.0.0.1, little-endian hex
