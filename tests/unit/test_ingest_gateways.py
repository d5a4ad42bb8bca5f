"""Gateway registry: strict loading with exact messages, token checks, and scoping."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agents.ingest.dlq import Origin
from agents.ingest.gateways import (
    GatewayConfigError,
    GatewayRegistry,
    load_registry,
    parse_registry,
)
from agents.settings import IngestSettings
from agents.validate import judge
from schemas import INBOUND_EVENT, InboundEvent

WARD_TOKEN = secrets.token_urlsafe(32)
APP_TOKEN = secrets.token_urlsafe(32)
FILE_TOKEN = secrets.token_urlsafe(32)
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def document(*gateways: dict[str, Any]) -> str:
    return json.dumps({"gateways": list(gateways)})


@pytest.fixture
def registry(tmp_path: Path) -> GatewayRegistry:
    (tmp_path / "bridge.token").write_text(FILE_TOKEN + "\n")
    text = f"""
gateways:
  - id: ward3-monitors
    token_sha256: {sha256(WARD_TOKEN).upper()}
    wards: [ward-3]
  - id: telehealth
    token_env: TELEHEALTH_TOKEN
    devices: ["app-*"]
  - id: ward4-bridge
    token_file: bridge.token
    wards: [ward-4]
    devices: [bm-ward4-01, bm-ward4-02]
"""
    return parse_registry(
        text, source="test", environ={"TELEHEALTH_TOKEN": APP_TOKEN}, base_dir=tmp_path
    )


def event(ward: str | None = "ward-3", device_id: str = "bm-ward3-01") -> InboundEvent:
    data: dict[str, Any] = {
        "kind": "vital_signs",
        "event_id": str(uuid.uuid4()),
        "patient_id": "pt-scope01",
        "device_id": device_id,
        "source": "bedside_monitor",
        "observed_at": (NOW - timedelta(minutes=1)).isoformat(),
        "heart_rate": 80,
    }
    if ward is not None:
        data["ward"] = ward
    return INBOUND_EVENT.validate_python(data)


def as_bytes(inbound: InboundEvent) -> bytes:
    """As a gateway sends it: without the fields only the pipeline sets."""
    return inbound.model_dump_json(exclude={"received_at", "late"}).encode()


# --- tokens -------------------------------------------------------------------------------


def test_each_way_of_giving_a_token_authenticates_its_gateway(registry: GatewayRegistry) -> None:
    assert len(registry) == 3
    for token, gateway_id in (
        (WARD_TOKEN, "ward3-monitors"),
        (APP_TOKEN, "telehealth"),
        (FILE_TOKEN, "ward4-bridge"),
    ):
        gateway = registry.authenticate(token)
        assert gateway is not None
        assert gateway.id == gateway_id


def test_an_unknown_or_altered_token_authenticates_nobody(registry: GatewayRegistry) -> None:
    assert registry.authenticate(secrets.token_urlsafe(32)) is None
    assert registry.authenticate(WARD_TOKEN[:-1]) is None
    assert registry.authenticate(WARD_TOKEN + " ") is None
    assert registry.authenticate("") is None


def test_only_the_hash_of_a_token_is_kept(registry: GatewayRegistry) -> None:
    for gateway_id in ("ward3-monitors", "telehealth", "ward4-bridge"):
        gateway = registry.get(gateway_id)
        assert gateway is not None
        assert len(gateway.digest) == 32
        for token in (WARD_TOKEN, APP_TOKEN, FILE_TOKEN):
            assert token not in repr(gateway)


# --- scope --------------------------------------------------------------------------------


def test_a_ward_gateway_may_publish_any_device_on_its_wards_only(
    registry: GatewayRegistry,
) -> None:
    gateway = registry.get("ward3-monitors")
    assert gateway is not None
    assert gateway.scope_error(event("ward-3", "anything-01")) is None
    refused = gateway.scope_error(event("ward-5"))
    assert refused is not None
    assert refused.reason == "out_of_scope"
    assert refused.detail == (
        "gateway 'ward3-monitors' may not publish ward 'ward-5': its wards are ['ward-3']"
    )
    no_ward = gateway.scope_error(event(None))
    assert no_ward is not None
    assert "an event without a ward" in no_ward.detail


def test_a_device_pattern_matches_with_a_star_and_nothing_else(
    registry: GatewayRegistry,
) -> None:
    gateway = registry.get("telehealth")
    assert gateway is not None
    assert gateway.scope_error(event(None, "app-7f3a")) is None
    assert gateway.scope_error(event("ward-9", "app-")) is None
    refused = gateway.scope_error(event(None, "bm-app-1"))
    assert refused is not None
    assert refused.detail == (
        "gateway 'telehealth' may not publish for device 'bm-app-1': its devices are ['app-*']"
    )


def test_with_wards_and_devices_an_event_must_pass_both(registry: GatewayRegistry) -> None:
    gateway = registry.get("ward4-bridge")
    assert gateway is not None
    assert gateway.scope_error(event("ward-4", "bm-ward4-02")) is None
    assert gateway.scope_error(event("ward-4", "bm-ward4-03")) is not None
    assert gateway.scope_error(event("ward-3", "bm-ward4-01")) is not None


def test_a_message_with_one_event_out_of_scope_is_refused_whole(
    registry: GatewayRegistry,
) -> None:
    origin = Origin(path="http:/ingest", gateway_id="ward3-monitors")
    verdict = judge(as_bytes(event("ward-3")), origin, received_at=NOW, registry=registry)
    assert verdict.refusal is None
    assert len(verdict.accepted) == 1
    assert verdict.accepted[0].received_at == NOW

    verdict = judge(as_bytes(event("ward-5")), origin, received_at=NOW, registry=registry)
    assert verdict.refusal == "out_of_scope"
    assert verdict.accepted == []
    assert [r.reason for r in verdict.rejections] == ["out_of_scope"]


def test_a_message_naming_an_unregistered_gateway_is_rejected(
    registry: GatewayRegistry,
) -> None:
    raw = as_bytes(event())
    origin = Origin(path="kafka:detoxmon.readings.v1", gateway_id="retired-gateway")
    verdict = judge(raw, origin, received_at=NOW, registry=registry)
    assert [(r.reason, r.detail) for r in verdict.rejections] == [
        ("unknown_gateway", "gateway 'retired-gateway' is not in the gateway registry")
    ]


# --- loading: every mistake fails with a message naming the gateway and the field --------


@pytest.mark.parametrize(
    ("gateways", "message"),
    [
        (
            [{"id": "a", "token_sha256": sha256(WARD_TOKEN), "wards": ["ward-3"], "colour": 1}],
            "gateway registry test: gateways.0.colour: Extra inputs are not permitted",
        ),
        (
            [{"id": "a", "wards": ["ward-3"]}],
            "gateways.0: Value error, exactly one of token_sha256, token_env, token_file",
        ),
        (
            [{"id": "a", "token_sha256": sha256(WARD_TOKEN), "token_env": "X", "wards": ["w"]}],
            "exactly one of token_sha256, token_env, token_file (got token_sha256, token_env)",
        ),
        (
            [{"id": "a", "token_sha256": sha256(WARD_TOKEN)}],
            "gateways.0: Value error, wards or devices is required: a gateway without a scope",
        ),
        (
            [{"id": "a", "token_sha256": "abc", "wards": ["ward-3"]}],
            "gateways.0.token_sha256: String should match pattern '^[0-9a-fA-F]{64}$'",
        ),
        (
            [{"id": "a", "token_sha256": sha256(WARD_TOKEN), "wards": ["Ward 3"]}],
            "gateways.0.wards.0: String should match pattern",
        ),
        (
            [
                {"id": "a", "token_sha256": sha256(WARD_TOKEN), "wards": ["ward-3"]},
                {"id": "a", "token_sha256": sha256(APP_TOKEN), "wards": ["ward-4"]},
            ],
            "gateways: Value error, gateway id 'a' appears twice",
        ),
        (
            [
                {"id": "a", "token_sha256": sha256(WARD_TOKEN), "wards": ["ward-3"]},
                {"id": "b", "token_sha256": sha256(WARD_TOKEN), "wards": ["ward-4"]},
            ],
            "gateways 'a' and 'b' share a token; each gateway needs its own",
        ),
        ([], "gateways: List should have at least 1 item after validation, not 0"),
    ],
)
def test_a_bad_registry_fails_with_a_message_that_says_where(
    gateways: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(GatewayConfigError) as caught:
        parse_registry(document(*gateways), source="test", environ={})
    assert message in str(caught.value)


def test_a_token_from_the_environment_must_be_set_and_long(tmp_path: Path) -> None:
    text = document({"id": "app", "token_env": "APP_TOKEN", "devices": ["app-*"]})
    with pytest.raises(GatewayConfigError, match="environment variable APP_TOKEN is not set"):
        parse_registry(text, source="test", environ={})
    with pytest.raises(GatewayConfigError) as caught:
        parse_registry(text, source="test", environ={"APP_TOKEN": "hunter2"})
    assert "has 7 characters; use at least 32" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_a_token_file_must_exist(tmp_path: Path) -> None:
    text = document({"id": "bridge", "token_file": "missing.token", "wards": ["ward-4"]})
    with pytest.raises(GatewayConfigError) as caught:
        parse_registry(text, source="test", environ={}, base_dir=tmp_path)
    assert str(caught.value) == (
        f"gateway 'bridge': token file {tmp_path / 'missing.token'}: No such file or directory"
    )


def test_broken_yaml_is_located_without_quoting_the_document() -> None:
    text = "gateways:\n  - id: a\n    token_sha256: [unclosed\n"
    with pytest.raises(GatewayConfigError) as caught:
        parse_registry(text, source="gw.yaml", environ={})
    assert str(caught.value).startswith("gateway registry gw.yaml: not YAML:")
    assert "line 4 column 1" in str(caught.value)
    assert "unclosed" not in str(caught.value)


def test_settings_name_a_file_or_an_inline_registry_and_the_mllp_gateway(tmp_path: Path) -> None:
    text = document({"id": "engine", "token_sha256": sha256(WARD_TOKEN), "wards": ["ward-3"]})
    path = tmp_path / "gateways.yaml"
    path.write_text(text)
    assert load_registry(IngestSettings(gateways_file=path)).get("engine") is not None
    assert load_registry(IngestSettings(gateways=text)).get("engine") is not None
    assert len(load_registry(IngestSettings())) == 0
    with pytest.raises(GatewayConfigError, match="not both"):
        load_registry(IngestSettings(gateways_file=path, gateways=text))
    with pytest.raises(GatewayConfigError, match=r"gateways\.yaml: No such file or directory"):
        load_registry(IngestSettings(gateways_file=tmp_path / "none" / "gateways.yaml"))
    with pytest.raises(GatewayConfigError, match="MLLP_GATEWAY is required"):
        load_registry(IngestSettings(gateways=text, mllp_port=2575))
    with pytest.raises(GatewayConfigError, match="names 'elsewhere', which is not in the"):
        load_registry(IngestSettings(gateways=text, mllp_port=2575, mllp_gateway="elsewhere"))
    registry = load_registry(IngestSettings(gateways=text, mllp_port=2575, mllp_gateway="engine"))
    assert registry.get("engine") is not None


def test_the_example_registry_in_deploy_loads() -> None:
    example = Path(__file__).parents[2] / "deploy" / "gateways.example.yaml"
    environ = {"DETOXMON_GATEWAY_TOKEN_TELEHEALTH": secrets.token_urlsafe(32)}
    registry = parse_registry(
        example.read_text(), source=str(example), environ=environ, base_dir=example.parent
    )
    assert registry.get("ward3-monitors") is not None
    assert registry.get("telehealth-app") is not None
