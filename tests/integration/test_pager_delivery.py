"""The pager end to end on the real broker, with a worker subprocess, a PagerDuty stand-in that
checks the Events API v2 contract, and a recording webhook receiver as the fallback channel.

- a reading past the threshold pages PagerDuty; the HTTP endpoint and PagerDuty's webhook
  acknowledge it onto the acks topic; the recovery resolves it with the same dedup key;
- a whole lifecycle published on the alerts topic (escalation, acknowledgement) reaches the
  right people in order, and a replay pages nobody again, also after a worker restart;
- an outage of PagerDuty (500s, then connections refused) moves pages to the webhook, and
  when it returns every transition has been delivered exactly once, in order per alert, with
  the failures and fallbacks on the audit topic.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer

from agents.embedded import EmbeddedStack, ServiceStartError
from agents.embedded.worker import WorkerProcess
from schemas import Alert, AlertAcknowledgement, AlertEvidence
from schemas.alerts import AlertState, EscalationRole
from schemas.pager_audit import PagerAudit
from streams import topics
from streams.producer import bootstrap_servers
from tests.support.kafka import read_topic
from tests.support.pagerduty_server import PagerDutyStandIn
from tests.support.recording_server import RecordingServer, recording_server
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

KEYS = {"rn-1": "r" * 32, "cn-1": "c" * 32, "md-1": "m" * 32}
ROLES: dict[EscalationRole, str] = {
    "bedside_nurse": "rn-1",
    "charge_nurse": "cn-1",
    "on_call_physician": "md-1",
}
TOKEN = "staff-app-token-0123"
PD_WEBHOOK_SECRET = "pd-webhook-secret"
GATEWAY_SECRET = "gateway-secret"


def routing_yaml(webhook_base: str) -> str:
    rota = "\n".join(
        f"      {role}:\n        - {{days: daily, start: '00:00', end: '00:00', "
        f"receivers: [{receiver}]}}"
        for role, receiver in ROLES.items()
    )
    receivers = "\n".join(
        f"  {receiver}:\n"
        f"    pagerduty: {{routing_key_env: PD_KEY_{receiver.replace('-', '_').upper()}}}\n"
        f"    webhook: {{url: '{webhook_base}/{receiver}', secret_file: gateway.secret}}"
        for receiver in KEYS
    )
    return (
        "version: 1\ndefault_team: ward\nwards: {ward-3: ward}\n"
        "priorities:\n  high: [pagerduty, webhook]\n  medium: [pagerduty, webhook]\n"
        "  low: [pagerduty, webhook]\n"
        f"teams:\n  ward:\n    time_zone: Europe/London\n    rota:\n{rota}\n"
        f"receivers:\n{receivers}\n"
    )


@dataclass
class Pager:
    stack: EmbeddedStack
    worker: WorkerProcess
    pagerduty: PagerDutyStandIn
    webhook: RecordingServer

    @property
    def broker_url(self) -> str:
        return self.stack.broker.url


@pytest.fixture(scope="module")
def pager(stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pager]:
    workdir = tmp_path_factory.mktemp("pager")
    pagerduty = PagerDutyStandIn()
    pagerduty.start()
    with recording_server() as webhook:
        base = f"http://127.0.0.1:{webhook.port}/page"
        (workdir / "routing.yaml").write_text(routing_yaml(base))
        (workdir / "gateway.secret").write_text(GATEWAY_SECRET)
        env = {
            **stack.env(),
            **{f"PD_KEY_{r.replace('-', '_').upper()}": key for r, key in KEYS.items()},
            "DETOXMON_PAGER__ROUTING_FILE": str(workdir / "routing.yaml"),
            "DETOXMON_PAGER__PAGERDUTY_EVENTS_URL": pagerduty.url,
            "DETOXMON_PAGER__PAGERDUTY_WEBHOOK_SECRET": PD_WEBHOOK_SECRET,
            "DETOXMON_PAGER__ACK_TOKENS": json.dumps([TOKEN]),
            "DETOXMON_PAGER__RETRY_ATTEMPTS": "3",
            "DETOXMON_PAGER__RETRY_BUDGET_S": "1.5",
            "DETOXMON_PAGER__INITIAL_BACKOFF_S": "0.2",
            "DETOXMON_PAGER__MAX_BACKOFF_S": "0.5",
            "DETOXMON_PAGER__TIMEOUT_S": "2",
            "DETOXMON_KAFKA__TOPIC_PARTITIONS": "4",
            "DETOXMON_KAFKA__SESSION_TIMEOUT_S": "6",
            "DETOXMON_INFLUX__FLUSH_INTERVAL_S": "0.2",
        }
        worker = WorkerProcess(workdir / "worker", env)
        worker.start()
        try:
            yield Pager(stack=stack, worker=worker, pagerduty=pagerduty, webhook=webhook)
        finally:
            worker.stop()
            pagerduty.stop()


async def produce(broker_url: str, topic: str, messages: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(broker_url), acks="all")
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topic, key=key.encode(), value=value)
    finally:
        await producer.stop()


def reading(patient: str, heart_rate: float, minutes: int) -> tuple[str, bytes]:
    observed = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30 - minutes)
    return patient, json.dumps(
        {
            "kind": "vital_signs",
            "event_id": str(uuid.uuid4()),
            "patient_id": patient,
            "device_id": "bm-ward3-01",
            "ward": "ward-3",
            "source": "bedside_monitor",
            "observed_at": observed.isoformat(),
            "heart_rate": heart_rate,
            "systolic_bp": 128,
            "diastolic_bp": 82,
        }
    ).encode()


def transition(
    alert_id: uuid.UUID,
    patient: str,
    state: AlertState,
    sequence: int,
    role: EscalationRole = "bedside_nurse",
) -> Alert:
    now = datetime.now(UTC)
    return Alert(
        alert_id=alert_id,
        transition_id=uuid.uuid5(alert_id, f"{sequence}:{state}"),
        sequence=sequence,
        patient_id=patient,
        ward="ward-3",
        rule_id="pulse_high",
        priority="high",
        state=state,
        at=now,
        summary="Pulse at or above 120/min",
        source="test",
        evidence=AlertEvidence(measure="heart_rate", value=131, observed_at=now),
        escalation_level=list(ROLES).index(role),
        escalate_to=role,
    )


async def publish(pager: Pager, *alerts: Alert) -> None:
    await produce(
        pager.broker_url,
        topics.ALERTS,
        [(a.patient_id, a.model_dump_json().encode()) for a in alerts],
    )


def pd_events(pager: Pager, alert_id: uuid.UUID) -> list[dict[str, Any]]:
    return [e for e in pager.pagerduty.accepted() if e["dedup_key"] == f"detoxmon-{alert_id}"]


def receiver_of(routing_key: str) -> str:
    return next(r for r, key in KEYS.items() if key == routing_key)


def webhook_pages(pager: Pager, patient: str) -> list[tuple[str, Alert]]:
    pages = []
    for request in pager.webhook.accepted():
        alert = Alert.model_validate_json(request.body)
        if alert.patient_id == patient:
            pages.append((request.path.rsplit("/", 1)[1], alert))
    return pages


async def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as response,
    ):
        return response.status, await response.json(content_type=None)


def ready_count(pager: Pager) -> int:
    """How many times the worker has logged that it is ready (recovered, partitions assigned)."""
    log = pager.worker.process.log_path
    return (
        log.read_text(errors="replace").count("PagerCheckedWorker]: Ready") if log.exists() else 0
    )


def pd_signature(body: bytes) -> str:
    digest = hmac.new(PD_WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return f"v1=0000,v1={digest}"  # two signatures, as during a secret rotation


async def test_a_lifecycle_reaches_each_role_in_order_and_a_replay_pages_nobody(
    pager: Pager,
) -> None:
    alert_id, patient = uuid.uuid4(), "pt-life01"
    lifecycle = [
        transition(alert_id, patient, "firing", 0),
        transition(alert_id, patient, "escalated", 1, "charge_nurse"),
        transition(alert_id, patient, "acknowledged", 2, "charge_nurse"),
        transition(alert_id, patient, "resolved", 3, "charge_nurse"),
    ]
    await publish(pager, *lifecycle)
    events = await eventually(lambda: pd_events(pager, alert_id), lambda found: len(found) >= 6)
    assert [(e["event_action"], receiver_of(e["routing_key"])) for e in events] == [
        ("trigger", "rn-1"),
        ("trigger", "cn-1"),
        ("acknowledge", "rn-1"),  # everyone paged hears of it, on the key that opened it
        ("acknowledge", "cn-1"),
        ("resolve", "rn-1"),
        ("resolve", "cn-1"),
    ]

    await publish(pager, *lifecycle)  # a replay: the same transitions again
    marker_id = uuid.uuid4()
    await publish(pager, transition(marker_id, patient, "firing", 0))
    await eventually(lambda: pd_events(pager, marker_id), lambda found: len(found) == 1)
    assert len(pd_events(pager, alert_id)) == 6

    # After a restart the worker recovers the delivered-pages table from its changelog.
    starts = ready_count(pager)
    pager.worker.stop()
    pager.worker.start()
    # Publish once the worker has joined and recovered: this test is about the delivered-pages
    # table (messages arriving during the recovery: test_no_loss_rebalance.py).
    await eventually(lambda: ready_count(pager), lambda count: count > starts, timeout_s=60)
    await publish(pager, *lifecycle)
    after_restart = uuid.uuid4()
    await publish(pager, transition(after_restart, patient, "firing", 0))
    await eventually(
        lambda: pd_events(pager, after_restart), lambda found: len(found) == 1, timeout_s=90
    )
    assert len(pd_events(pager, alert_id)) == 6
    assert pager.pagerduty.violations() == []


async def test_a_reading_pages_pagerduty_is_acknowledged_and_resolves(pager: Pager) -> None:
    patient = "pt-e2e01"
    sent_at = time.time()
    await produce(
        pager.broker_url,
        topics.READINGS,
        [reading(patient, 100, 0), reading(patient, 126, 15)],
    )
    triggers = await eventually(
        lambda: [
            e
            for e in pager.pagerduty.accepted()
            if patient in e.get("payload", {}).get("summary", "")
        ],
        lambda found: len(found) >= 1,
    )
    arrived = next(r.at for r in pager.pagerduty.received if patient.encode() in r.body)
    trigger = triggers[0]
    assert trigger["event_action"] == "trigger"
    assert trigger["routing_key"] == KEYS["rn-1"]  # the bedside nurse on duty
    assert trigger["payload"]["severity"] == "error"  # pulse_high is medium priority
    alert_id = uuid.UUID(trigger["payload"]["custom_details"]["alert_id"])
    assert trigger["dedup_key"] == f"detoxmon-{alert_id}"

    ack_url = f"{pager.worker.url}/alerts/{alert_id}/ack"
    body = json.dumps({"by": "rn-1", "role": "bedside_nurse", "reason": "attending_patient"})
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    assert (await post(ack_url, body.encode(), {}))[0] == 401
    assert (await post(ack_url, body.encode(), {"Authorization": "Bearer wrong"}))[0] == 401
    unknown = f"{pager.worker.url}/alerts/{uuid.uuid4()}/ack"
    assert (await post(unknown, body.encode(), auth))[0] == 404
    status, answer = await post(ack_url, b'{"by": "Jane Doe", "reason": "x"}', auth)
    assert status == 422
    assert "Jane" not in json.dumps(answer)
    status, answer = await post(ack_url, body.encode(), {**auth, "Idempotency-Key": "tap-1"})
    assert status == 202, answer

    # PagerDuty's own acknowledgement arrives by its signed v3 webhook.
    event = {
        "event": {
            "id": "01EVENTPD0000000000000001",
            "event_type": "incident.acknowledged",
            "resource_type": "incident",
            "occurred_at": datetime.now(UTC).isoformat(),
            "agent": {"id": "PLH1HKV", "type": "user_reference", "summary": "A Name"},
            "data": {"id": "PGR0VU2", "type": "incident", "incident_key": trigger["dedup_key"]},
        }
    }
    raw = json.dumps(event).encode()
    pd_url = f"{pager.worker.url}/pagerduty/webhook"
    assert (await post(pd_url, raw, {"X-PagerDuty-Signature": "v1=bad"}))[0] == 401
    assert (await post(pd_url, raw, {"X-PagerDuty-Signature": pd_signature(raw)}))[0] == 202

    records = await read_topic(
        pager.broker_url,
        topics.ACKS,
        until=lambda r: len([x for x in r if x.key == patient.encode()]) >= 2,
        timeout_s=30,
    )
    acks = [AlertAcknowledgement.model_validate_json(r.value) for r in records]
    acks = [a for a in acks if a.patient_id == patient]
    assert [(a.alert_id, a.via, a.by) for a in acks] == [
        (alert_id, "http", "rn-1"),
        (alert_id, "pagerduty", "pd-PLH1HKV"),
    ]
    assert str(acks[0].ack_id) == answer["ack_id"]

    # The rule engine turns the acknowledgement into the alert's acknowledged transition.
    await eventually(
        lambda: [e["event_action"] for e in pd_events(pager, alert_id)],
        lambda actions: "acknowledge" in actions,
    )
    await produce(pager.broker_url, topics.READINGS, [reading(patient, 96, 30)])
    events = await eventually(
        lambda: pd_events(pager, alert_id), lambda found: found[-1]["event_action"] == "resolve"
    )
    assert [e["event_action"] for e in events] == ["trigger", "acknowledge", "resolve"]
    assert {e["routing_key"] for e in events} == {KEYS["rn-1"]}
    assert ["payload" in e for e in events] == [True, False, False]
    status, answer = await post(ack_url, body.encode(), auth)
    assert (status, answer["error"]) == (409, "the alert is already resolved")
    assert pager.pagerduty.violations() == []

    audits = await read_topic(
        pager.broker_url,
        topics.PAGER_AUDIT,
        until=lambda r: sum(b'"acknowledged"' in x.value for x in r) >= 2,
        timeout_s=30,
    )
    mine = [PagerAudit.model_validate_json(r.value) for r in audits]
    mine = [a for a in mine if a.alert_id == alert_id]
    assert [a.channel for a in mine if a.outcome == "acknowledged"] == ["http", "pagerduty"]
    assert [a.state for a in mine if a.outcome == "delivered"][:1] == ["firing"]
    print(f"\nreading published to PagerDuty trigger received: {(arrived - sent_at) * 1000:.0f} ms")


async def test_an_outage_delays_pages_to_the_fallback_and_loses_none(pager: Pager) -> None:
    started = time.monotonic()
    requests_before = len(pager.pagerduty.received)
    ids = {name: uuid.uuid4() for name in ("f1", "f2", "f3", "f4")}
    patients = {name: f"pt-fault-{name}" for name in ids}

    def step(
        name: str, state: AlertState, sequence: int, role: EscalationRole = "bedside_nurse"
    ) -> Alert:
        return transition(ids[name], patients[name], state, sequence, role)

    pager.pagerduty.script(500, 500, 500)  # PagerDuty fails...
    await publish(pager, step("f1", "firing", 0))
    await eventually(lambda: webhook_pages(pager, patients["f1"]), lambda p: len(p) == 1)
    pager.pagerduty.stop()  # ...then refuses connections
    await publish(pager, step("f2", "firing", 0), step("f1", "escalated", 1, "charge_nurse"))
    await asyncio.sleep(3)  # several retry periods (budget 1.5 s, backoff up to 0.5 s)
    await publish(pager, step("f3", "firing", 0))
    await eventually(lambda: webhook_pages(pager, patients["f3"]), lambda p: len(p) == 1)
    outage_s = time.monotonic() - started
    pager.pagerduty.start()  # back, on the same port
    await publish(
        pager,
        step("f1", "resolved", 2, "charge_nurse"),
        step("f2", "resolved", 1),
        step("f3", "resolved", 1),
        step("f4", "firing", 0),
        step("f4", "resolved", 1),
    )
    await eventually(lambda: pd_events(pager, ids["f4"]), lambda e: len(e) == 2)
    await eventually(lambda: webhook_pages(pager, patients["f3"]), lambda p: len(p) == 2)

    # The webhook carried everything that was due during the outage, and the follow-ups of
    # those alerts (their incidents never opened in PagerDuty); PagerDuty got the new alert.
    delivered: Counter[tuple[uuid.UUID, str, str]] = Counter()
    for name in ("f1", "f2", "f3"):
        pages = webhook_pages(pager, patients[name])
        for receiver, alert in pages:
            delivered[(alert.transition_id, receiver, "webhook")] += 1
        by_receiver: dict[str, list[int]] = {}
        for receiver, alert in pages:
            by_receiver.setdefault(receiver, []).append(alert.sequence)
        assert all(seq == sorted(seq) for seq in by_receiver.values()), by_receiver
        assert pd_events(pager, ids[name]) == []
    assert [(r, a.state) for r, a in webhook_pages(pager, patients["f1"])] == [
        ("rn-1", "firing"),
        ("cn-1", "escalated"),
        ("rn-1", "resolved"),
        ("cn-1", "resolved"),
    ]
    assert [a.state for _, a in webhook_pages(pager, patients["f2"])] == ["firing", "resolved"]
    assert set(delivered.values()) == {1}  # exactly once per transition and receiver
    assert [e["event_action"] for e in pd_events(pager, ids["f4"])] == ["trigger", "resolve"]
    assert webhook_pages(pager, patients["f4"]) == []
    assert pager.pagerduty.violations() == []

    audits = await read_topic(
        pager.broker_url,
        topics.PAGER_AUDIT,
        until=lambda r: any(
            str(ids["f4"]).encode() in x.value and b'"resolved"' in x.value for x in r
        ),
        timeout_s=30,
    )
    trail = [PagerAudit.model_validate_json(r.value) for r in audits]
    trail = [a for a in trail if a.alert_id in ids.values()]
    f1 = [(a.outcome, a.channel, a.attempt) for a in trail if a.alert_id == ids["f1"]]
    assert f1[:5] == [
        ("retrying", "pagerduty", 1),
        ("retrying", "pagerduty", 2),
        ("failed", "pagerduty", 3),
        ("fell_back", "pagerduty", 0),
        ("delivered", "webhook", 1),
    ]
    failures = [a.detail or "" for a in trail if a.outcome == "failed"]
    assert any("answered 500" in d for d in failures)
    assert any("unreachable" in d for d in failures)
    fallbacks = [a for a in trail if a.outcome == "fell_back"]
    assert {(a.channel, a.fallback_to) for a in fallbacks} == {("pagerduty", "webhook")}
    assert {a.alert_id for a in fallbacks} == {ids["f1"], ids["f2"], ids["f3"]}
    tries = Counter(a.channel for a in trail if a.outcome in ("retrying", "failed", "delivered"))
    answered = len(pager.pagerduty.received) - requests_before
    latencies = [a.latency_ms or 0 for a in trail if a.outcome == "delivered"]
    print(
        f"\noutage {outage_s:.1f} s, whole test {time.monotonic() - started:.1f} s; attempts "
        f"{dict(tries)} ({answered} reached the PagerDuty stand-in); "
        f"{len(failures)} spent budgets, {len(fallbacks)} fallbacks; "
        f"publish-to-delivery {min(latencies):.0f}-{max(latencies):.0f} ms"
    )


def test_a_worker_refuses_to_start_with_an_unusable_routing_file(
    stack: EmbeddedStack, tmp_path: Path
) -> None:
    (tmp_path / "routing.yaml").write_text(
        routing_yaml("http://127.0.0.1:9/page").replace(
            "wards: {ward-3: ward}", "wards: {ward-3: wrd}"
        )
    )
    env = {
        **stack.env(),
        "DETOXMON_PAGER__ROUTING_FILE": str(tmp_path / "routing.yaml"),
        "DETOXMON_KAFKA__SESSION_TIMEOUT_S": "6",
    }
    worker = WorkerProcess(tmp_path / "worker", env)
    with pytest.raises(ServiceStartError) as caught:
        worker.start(timeout_s=60)
    worker.stop()
    assert "worker exited during start" in str(caught.value)
    log = worker.process.log_path.read_text()
    assert "[CRITICAL] pager configuration refused, the worker stops:" in log
    assert f"{tmp_path}/routing.yaml:3:9: wards.ward-3: unknown team 'wrd'" in log
