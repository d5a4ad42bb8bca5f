"""POST /ingest on a real worker and broker: every answer, and where each message ends up."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.embedded.process import ServiceStartError
from agents.embedded.worker import WorkerProcess
from agents.ingest.formats import CONTENT_TYPES
from schemas import DeadLetter
from streams import topics
from tests.support.hl7 import oru_r01
from tests.support.ingest import (
    MAX_BODY_BYTES,
    IngestWorker,
    headers_of,
    ingest_worker,
    read_all,
    vital_signs,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ingest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestWorker]:
    quick_receipts = {"DETOXMON_INGEST__ACK_TIMEOUT_S": "3"}
    with ingest_worker(tmp_path_factory.mktemp("ingest-http"), quick_receipts) as worker:
        yield worker


async def request(ingest: IngestWorker, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=ingest.url, timeout=30) as client:
        return await client.request(method, path, **kwargs)


async def post(
    ingest: IngestWorker,
    body: bytes,
    *,
    gateway: str | None = "ward3-monitors",
    content_type: str | None = "application/json",
) -> httpx.Response:
    headers = ingest.auth(gateway) if gateway else {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return await request(ingest, "POST", "/ingest", content=body, headers=headers)


def as_bytes(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


async def letters_of(
    ingest: IngestWorker, original: bytes
) -> list[tuple[DeadLetter, dict[str, str]]]:
    """Dead letters of ``original`` the broker holds now (a 4xx is sent after they are acked)."""
    records = await read_all(ingest.broker_url, topics.DEAD_LETTER)
    found = []
    for record in records:
        letter = DeadLetter.model_validate_json(record.value)
        if letter.original() == original:
            found.append((letter, headers_of(record)))
    return found


async def observed(ingest: IngestWorker, event_id: str) -> list[dict[str, Any]]:
    """Events with this id on the observations topic now."""
    records = await read_all(ingest.broker_url, topics.OBSERVATIONS)
    return [v for r in records if (v := json.loads(r.value))["event_id"] == event_id]


async def test_health_answers_without_a_token_and_says_nothing_about_patients(
    ingest: IngestWorker,
) -> None:
    response = await request(ingest, "GET", "/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_a_202_means_the_event_is_already_on_the_observations_topic(
    ingest: IngestWorker,
) -> None:
    event = vital_signs("pt-http-ok01")
    response = await post(ingest, as_bytes(event))
    assert response.status_code == 202
    assert response.json() == {"accepted": [event["event_id"]], "rejected": [], "partial": False}
    # read once, without polling: the 202 came after the broker's acknowledgement
    [stored] = await observed(ingest, event["event_id"])
    assert stored["patient_id"] == "pt-http-ok01"
    assert stored["received_at"] is not None
    records = await read_all(ingest.broker_url, topics.OBSERVATIONS)
    assert [r.key for r in records if json.loads(r.value)["event_id"] == event["event_id"]] == [
        b"pt-http-ok01"
    ]


def future_event() -> dict[str, Any]:
    return vital_signs("pt-http-future", observed_at=datetime.now(UTC) + timedelta(hours=1))


REFUSALS: list[tuple[str, bytes, str, str | None, int, str]] = [
    ("invalid_json", b'{"kind": "vital_signs", ', "ward3-monitors", None, 400, "invalid_json"),
    ("not_utf8", b"\xff\xfe{}", "ward3-monitors", None, 400, "not_utf8"),
    ("not_an_object", b"[1, 2, 3]", "ward3-monitors", None, 400, "not_an_object"),
    ("missing_kind", b'{"heart_rate": 80}', "ward3-monitors", None, 422, "missing_kind"),
    (
        "schema_violation",
        as_bytes(vital_signs("pt-http-bp01", systolic_bp=80, diastolic_bp=95)),
        "ward3-monitors",
        None,
        422,
        "schema_violation",
    ),
    ("future_time", as_bytes(future_event()), "ward3-monitors", None, 422, "future_time"),
    (
        "ward_out_of_scope",
        as_bytes(vital_signs("pt-http-scope01", ward="ward-5")),
        "ward3-monitors",
        None,
        403,
        "out_of_scope",
    ),
    (
        "device_out_of_scope",
        as_bytes(vital_signs("pt-http-scope02", ward=None, device_id="bm-ward3-09")),
        "telehealth",
        None,
        403,
        "out_of_scope",
    ),
    (
        "unsupported_media_type",
        b"a,b\n1,2\n",
        "ward3-monitors",
        "text/csv",
        415,
        "unsupported_media_type",
    ),
]


@pytest.mark.parametrize(
    ("body", "gateway", "content_type", "status", "reason"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
async def test_a_refused_message_gets_its_status_and_reason_and_is_dead_lettered_whole(
    ingest: IngestWorker,
    body: bytes,
    gateway: str,
    content_type: str | None,
    status: int,
    reason: str,
) -> None:
    response = await post(
        ingest, body, gateway=gateway, content_type=content_type or "application/json"
    )
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["error"] == reason
    assert answer["detail"]
    assert [r["reason"] for r in answer["rejected"]] == [reason]

    [(letter, headers)] = await letters_of(ingest, body)
    assert letter.reason == reason
    assert letter.path == "http:/ingest"
    assert letter.detail.endswith(answer["rejected"][0]["detail"])
    assert letter.content_type == (content_type or "application/json")
    assert headers["detoxmon-gateway"] == gateway
    assert "pt-" not in letter.detail  # the detail never echoes patient ids


async def test_a_missing_or_unknown_token_is_401_with_a_challenge_and_nothing_is_kept(
    ingest: IngestWorker,
) -> None:
    body = as_bytes(vital_signs("pt-http-noauth"))
    missing = await post(ingest, body, gateway=None)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="detoxmon"'
    assert missing.json()["error"] == "missing_token"

    for authorization in ("Bearer not-a-gateway-token", "Basic dXNlcjpwYXNz", "Bearer"):
        response = await request(
            ingest, "POST", "/ingest", content=body, headers={"Authorization": authorization}
        )
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="detoxmon"')
        assert response.json()["error"] in ("invalid_token", "missing_token")
    unknown = await request(
        ingest,
        "POST",
        "/ingest",
        content=body,
        headers={"Authorization": "Bearer not-a-gateway-token"},
    )
    assert unknown.headers["WWW-Authenticate"] == 'Bearer realm="detoxmon", error="invalid_token"'
    assert await letters_of(ingest, body) == []
    assert await observed(ingest, json.loads(body)["event_id"]) == []


async def test_a_body_over_the_limit_is_413_before_it_is_read(ingest: IngestWorker) -> None:
    body = b"x" * (MAX_BODY_BYTES + 1)
    declared = await post(ingest, body)
    assert declared.status_code == 413
    assert declared.json() == {
        "error": "body_too_large",
        "detail": f"the body exceeds {MAX_BODY_BYTES} bytes: send fewer events at once",
    }

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked transfer
        for _ in range(4):
            yield b"y" * (MAX_BODY_BYTES // 2)

    chunked = await request(
        ingest, "POST", "/ingest", content=chunks(), headers=ingest.auth("ward3-monitors")
    )
    assert chunked.status_code == 413
    assert chunked.json()["error"] == "body_too_large"
    # exactly at the limit is read and judged
    at_limit = await post(ingest, b" " * MAX_BODY_BYTES)
    assert at_limit.status_code == 400
    assert at_limit.json()["error"] == "invalid_json"


def fhir_observation(patient: str, heart_rate: float, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "device": {"reference": "Device/app-fhir01"},
        "effectiveDateTime": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
        "valueQuantity": {
            "value": heart_rate,
            "unit": "/min",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        },
        **extra,
    }


async def test_fhir_is_converted_and_a_bundle_may_be_accepted_in_part(ingest: IngestWorker) -> None:
    single = as_bytes(fhir_observation("pt-fhir-one", 91))
    response = await post(
        ingest, single, gateway="telehealth", content_type="application/fhir+json"
    )
    assert response.status_code == 202, response.text
    [event_id] = response.json()["accepted"]
    [stored] = await observed(ingest, event_id)
    assert (stored["patient_id"], stored["heart_rate"]) == ("pt-fhir-one", 91)

    bad_unit = fhir_observation("pt-fhir-two", 90)
    bad_unit["valueQuantity"] = {"value": 9, "system": "http://unitsofmeasure.org", "code": "[fur]"}
    bundle = as_bytes(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": fhir_observation("pt-fhir-two", 118)}, {"resource": bad_unit}],
        }
    )
    response = await post(
        ingest, bundle, gateway="telehealth", content_type="application/fhir+json"
    )
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["partial"] is True
    assert len(answer["accepted"]) == 1
    [rejected] = answer["rejected"]
    assert rejected["location"] == "Bundle.entry[1]"
    assert await observed(ingest, answer["accepted"][0])
    [(letter, headers)] = await letters_of(ingest, bundle)
    assert letter.original() == bundle  # the whole Bundle, with where the bad part is
    assert letter.reason == rejected["reason"]
    assert headers["detoxmon-location"] == "Bundle.entry[1]"
    assert letter.content_type == "application/fhir+json"

    not_fhir = b'{"hello": "world"}'
    response = await post(
        ingest, not_fhir, gateway="telehealth", content_type="application/fhir+json"
    )
    assert response.status_code == 400
    assert await letters_of(ingest, not_fhir)

    incomplete = as_bytes({"resourceType": "Observation"})
    response = await post(
        ingest, incomplete, gateway="telehealth", content_type="application/fhir+json"
    )
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_resource"


async def test_hl7v2_over_http_is_converted(ingest: IngestWorker) -> None:
    message = oru_r01("pt-hl7-http", heart_rate=97)
    response = await post(
        ingest, message, gateway="mllp-engine", content_type="x-application/hl7-v2+er7"
    )
    assert response.status_code == 202, response.text
    [event_id] = response.json()["accepted"]
    [stored] = await observed(ingest, event_id)
    assert stored["heart_rate"] == 97

    response = await post(
        ingest, b"not HL7 at all", gateway="mllp-engine", content_type="application/hl7-v2"
    )
    assert response.status_code == 400
    assert await letters_of(ingest, b"not HL7 at all")


async def test_the_worker_keeps_serving_after_all_of_the_above(ingest: IngestWorker) -> None:
    event = vital_signs("pt-http-after")
    response = await post(ingest, as_bytes(event))
    assert response.status_code == 202
    assert ingest.worker.process.running()


def test_a_bad_gateway_registry_stops_the_worker_at_start_with_its_reason(
    ingest: IngestWorker, tmp_path: Path
) -> None:
    registry = tmp_path / "gateways.yaml"
    registry.write_text("gateways:\n  - id: monitors\n    token_sha256: abc\n    wards: [ward-3]\n")
    worker = WorkerProcess(
        tmp_path / "worker", {**ingest.env, "DETOXMON_INGEST__GATEWAYS_FILE": str(registry)}
    )
    with pytest.raises(ServiceStartError) as caught:
        worker.start(timeout_s=60)
    worker.stop()
    assert "exited during start" in str(caught.value)
    assert (
        f"GatewayConfigError: gateway registry {registry}: gateways.0.token_sha256: "
        "String should match pattern" in str(caught.value)
    )


# --- whatever arrives, the answer is not a 5xx, and the message is accepted or kept --------

_printable = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
content_types = st.one_of(
    st.none(),
    st.sampled_from([*CONTENT_TYPES, "application/json; charset=utf-8", "text/csv", ""]),
    # header values as HTTP allows them: no surrounding whitespace
    st.text(_printable, max_size=40).filter(lambda value: value == value.strip()),
)
events = st.builds(
    lambda patient, hr, ward: as_bytes(vital_signs(f"pt-prop-{patient}", ward=ward, heart_rate=hr)),
    st.integers(0, 10_000),
    st.integers(-10, 400),
    st.sampled_from(["ward-3", "ward-4", None]),
)
bodies = st.one_of(st.binary(max_size=4096), events, events.map(lambda b: b[: len(b) // 2]))


def test_any_bytes_with_any_content_type_never_5xx_and_end_accepted_or_dead_lettered(
    ingest: IngestWorker,
) -> None:
    outcomes: list[tuple[bytes, int, dict[str, Any]]] = []

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=bodies, content_type=content_types)
    def post_one(body: bytes, content_type: str | None) -> None:
        headers = ingest.auth("ward3-monitors")
        if content_type is not None:
            headers["Content-Type"] = content_type
        response = httpx.post(f"{ingest.url}/ingest", content=body, headers=headers, timeout=30)
        assert response.status_code in (202, 400, 403, 415, 422), response.text
        outcomes.append((body, response.status_code, response.json()))

    post_one()

    letters = [
        DeadLetter.model_validate_json(r.value)
        for r in asyncio.run(read_all(ingest.broker_url, topics.DEAD_LETTER))
    ]
    kept = {letter.original() for letter in letters if letter.path == "http:/ingest"}
    observed_ids = {
        json.loads(r.value)["event_id"]
        for r in asyncio.run(read_all(ingest.broker_url, topics.OBSERVATIONS))
    }
    for body, status, answer in outcomes:
        if status == 202:
            assert set(answer["accepted"]) <= observed_ids
        else:
            assert body in kept, (status, answer)


async def test_without_the_broker_the_answer_is_503_or_no_ack_never_a_receipt(
    ingest: IngestWorker,
) -> None:
    """Last in this module: it stops the broker (and starts an empty one for the teardown)."""
    await asyncio.to_thread(ingest.stack.broker.stop)
    try:
        await refused_without_broker(ingest)
    finally:
        await asyncio.to_thread(ingest.stack.broker.start)


async def refused_without_broker(ingest: IngestWorker) -> None:
    response = await post(ingest, as_bytes(vital_signs("pt-http-nobroker")))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"] == "broker_unavailable"

    reader, writer = await asyncio.open_connection("127.0.0.1", ingest.mllp_port)
    try:
        writer.write(b"\x0b" + oru_r01("pt-mllp-nobroker") + b"\x1c\x0d")
        await writer.drain()
        # no ACK: the connection closes, so the interface engine resends later
        assert await asyncio.wait_for(reader.read(), timeout=60) == b""
    finally:
        writer.close()
    assert ingest.worker.process.running()
