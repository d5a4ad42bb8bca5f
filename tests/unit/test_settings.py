"""Settings come from DETOXMON_* variables, nested with '__'; secrets never print."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.settings import Settings


def test_defaults_point_at_the_embedded_services(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).parent)  # no .env here
    settings = Settings()
    assert settings.kafka.broker_url == "kafka://127.0.0.1:9092"
    assert settings.influx.url == "http://127.0.0.1:8086"
    assert settings.web.bind == "127.0.0.1"


def test_nested_variables_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DETOXMON_KAFKA__BROKER_URL", "kafka://broker:9093")
    monkeypatch.setenv("DETOXMON_INFLUX__API_VERSION", "2")
    monkeypatch.setenv("DETOXMON_INFLUX__TOKEN", "tok-123")
    monkeypatch.setenv("DETOXMON_PAGER__WEBHOOK_URLS", '["https://pager.example/hook"]')
    settings = Settings()
    assert settings.kafka.broker_url == "kafka://broker:9093"
    assert settings.influx.api_version == 2
    assert settings.pager.webhook_urls == ["https://pager.example/hook"]
    assert settings.influx.token is not None
    assert settings.influx.token.get_secret_value() == "tok-123"
    assert "tok-123" not in repr(settings)


def test_an_unsupported_api_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DETOXMON_INFLUX__API_VERSION", "3")
    with pytest.raises(ValueError, match="api_version"):
        Settings()


def test_secrets_can_come_from_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "detoxmon_pager").write_text('{"webhook_secret": "from-file"}')
    monkeypatch.chdir(tmp_path)
    settings = Settings(_secrets_dir=tmp_path)
    assert settings.pager.webhook_secret is not None
    assert settings.pager.webhook_secret.get_secret_value() == "from-file"


def test_the_fetch_wait_defaults_to_kafkas_and_can_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).parent)  # no .env here
    assert Settings().kafka.fetch_max_wait_ms == 500
    monkeypatch.setenv("DETOXMON_KAFKA__FETCH_MAX_WAIT_MS", "20")
    assert Settings().kafka.fetch_max_wait_ms == 20
