"""Loading routing files: the good ones load, each bad one fails with its exact, located message."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from agents.pager.errors import RoutingError
from agents.pager.routing import LoadedRouting, load_routing, parse_routing
from agents.pager.runtime import file_routing, load_runtime, settings_routing
from agents.pager.secrets import ack_tokens, resolve_receiver_secrets, settings_secret
from agents.settings import PagerSettings

REPO = Path(__file__).parents[2]
KEY_NURSES = "n" * 32
KEY_CHARGE = "c" * 32

GOOD = """\
version: 1
default_team: north
wards:
  ward-3: north
  telehealth: remote
priorities:
  high: [pagerduty, webhook]
  medium: [pagerduty, webhook, email]
  low: [email, webhook]
teams:
  north:
    time_zone: Europe/London
    rota:
      bedside_nurse:
        - {days: daily, start: 07:00, end: 19:00, receivers: [rn-day]}
        - {days: daily, start: 19:00, end: 07:00, receivers: [rn-night]}
      charge_nurse:
        - {days: daily, start: 00:00, end: 00:00, receivers: [cn-1]}
      on_call_physician:
        - {days: weekdays, start: 09:00, end: 09:00, receivers: [md-week]}
        - {days: weekends, start: 09:00, end: 09:00, receivers: [md-weekend]}
  remote:
    time_zone: America/New_York
    rota:
      bedside_nurse:
        - {days: [mon, tue, wed, thu, fri], start: 08:00, end: 20:00, receivers: [rn-day]}
        - {days: weekdays, start: 20:00, end: 08:00, receivers: [rn-night]}
        - {days: weekends, start: 08:00, end: 08:00, receivers: [rn-night, cn-1]}
      charge_nurse:
        - {days: daily, start: 00:00, end: 24:00, receivers: [cn-1]}
      on_call_physician:
        - {days: daily, start: 00:00, end: 00:00, receivers: [md-week]}
receivers:
  rn-day:
    pagerduty: {routing_key_env: PD_NURSES}
    webhook: {url: "https://gateway.example/page/rn-day", secret_env: GATEWAY_SECRET}
    email: {to: rn-day@ward.example}
  rn-night:
    pagerduty: {routing_key_file: secrets/pd-nurses}
    webhook: {url: "https://gateway.example/page/rn-night", secret_file: secrets/gateway}
  cn-1:
    pagerduty: {routing_key: cccccccccccccccccccccccccccccccc}
    webhook: {url: "https://gateway.example/page/cn-1", secret: inline-secret}
  md-week:
    webhook: {url: "https://gateway.example/page/md-week", secret_env: GATEWAY_SECRET}
    email: {to: md-week@medicine.example}
  md-weekend:
    email: {to: md-weekend@medicine.example}
    webhook: {url: "https://gateway.example/page/md-weekend", secret_env: GATEWAY_SECRET}
"""


def good(tmp_path: Path | None = None) -> LoadedRouting:
    """The good routing, with its secret files written when ``tmp_path`` is given."""
    base = tmp_path or Path("/nonexistent")
    if tmp_path is not None:
        (tmp_path / "secrets").mkdir(exist_ok=True)
        (tmp_path / "secrets" / "pd-nurses").write_text(KEY_NURSES + "\n")
        (tmp_path / "secrets" / "gateway").write_text("file-secret\n")
    return parse_routing(GOOD, source="routing.yaml", base_dir=base)


def problems(text: str) -> list[str]:
    with pytest.raises(RoutingError) as caught:
        parse_routing(text, source="routing.yaml", base_dir=Path("."))
    return [problem.render("routing.yaml") for problem in caught.value.problems]


def test_the_good_file_loads_with_its_teams_wards_and_routes() -> None:
    config = good().config
    assert config.team_for("ward-3") == "north"
    assert config.team_for("telehealth") == "remote"
    assert config.team_for("ward-9") == "north"  # unlisted: the default team
    assert config.team_for(None) == "north"
    assert config.channels_for("medium", "rn-day") == ("pagerduty", "webhook", "email")
    assert config.channels_for("medium", "rn-night") == ("pagerduty", "webhook")
    assert config.channels_for("high", "md-weekend") == ("webhook",)


def test_the_committed_deploy_file_is_valid() -> None:
    loaded = load_routing(REPO / "deploy" / "routing.yaml")
    assert set(loaded.config.wards) == {"ward-3", "ward-4", "telehealth"}
    assert loaded.source.endswith("deploy/routing.yaml")


def test_unquoted_clock_times_stay_times_not_base_60_numbers() -> None:
    shift = good().config.teams["north"].rota["bedside_nurse"][1]
    assert (shift.start, shift.end) == ("19:00", "07:00")


def test_a_duplicate_key_is_refused_with_its_line() -> None:
    text = GOOD.replace("  telehealth: remote\n", "  telehealth: remote\n  ward-3: remote\n")
    assert problems(text) == ["routing.yaml:6:3: duplicate key 'ward-3'"]


def test_malformed_yaml_is_located() -> None:
    assert problems("version: 1\nwards: [a, b\n") == [
        "routing.yaml:3:1: while parsing a flow sequence expected ',' or ']', but got "
        "'<stream end>'"
    ]


def test_a_document_that_is_not_a_mapping_is_refused() -> None:
    assert problems("- just\n- a list\n") == [
        "routing.yaml:1:1: expected a mapping at the top level"
    ]


def test_schema_errors_name_line_column_and_path() -> None:
    text = (
        GOOD.replace("high: [pagerduty, webhook]", "high: [pagerduty, pager]")
        .replace("time_zone: America/New_York", "time_zone: Mars/Olympus")
        .replace("start: 07:00, end: 19:00", "start: 7am, end: 19:00")
        .replace("{routing_key_env: PD_NURSES}", "{routing_key_env: PD_NURSES, routing_key: x}")
        .replace("    email: {to: rn-day@ward.example}\n", "    colour: blue\n")
        .replace("version: 1", "version: 2")
    )
    assert problems(text) == [
        "routing.yaml:1:1: version: Input should be 1",
        "routing.yaml:7:21: priorities.high[1]: Input should be 'pagerduty', 'webhook' or 'email'",
        "routing.yaml:15:25: teams.north.rota.bedside_nurse[0].start: "
        "expected a time HH:MM (00:00 to 23:59), got '7am'",
        "routing.yaml:23:5: teams.remote.time_zone: "
        "unknown time zone 'Mars/Olympus' (an IANA name such as Europe/London)",
        "routing.yaml:35:5: receivers.rn-day.pagerduty: "
        "set exactly one of routing_key, routing_key_file, routing_key_env",
        "routing.yaml:37:5: receivers.rn-day.colour: unknown key",
    ]


def test_missing_and_malformed_values_are_reported() -> None:
    text = (
        GOOD.replace("default_team: north\n", "")
        .replace("{to: md-week@medicine.example}", "{to: not-an-address}")
        .replace("routing_key: cccccccccccccccccccccccccccccccc", "routing_key: short")
        .replace(
            "days: daily, start: 00:00, end: 00:00", "days: sometimes, start: 00:00, end: 00:00"
        )
        .replace(
            "receivers: [md-week]}\n        - {days: weekends",
            "receivers: []}\n        - {days: weekends",
        )
        .replace("  rn-night:\n    pagerduty", "  Jane Doe:\n    pagerduty")
    )
    assert problems(text) == [
        "routing.yaml:1:1: default_team: required",
        "routing.yaml:17:12: teams.north.rota.charge_nurse[0].days: "
        "expected a list of days or one of daily, weekdays, weekends, got 'sometimes'",
        "routing.yaml:19:54: teams.north.rota.on_call_physician[0].receivers: "
        "list at least one receiver",
        "routing.yaml:31:12: teams.remote.rota.on_call_physician[0].days: "
        "expected a list of days or one of daily, weekdays, weekends, got 'sometimes'",
        "routing.yaml:37:3: receivers.Jane Doe: "
        "String should match pattern '^[A-Za-z0-9][A-Za-z0-9_.:-]{1,63}$'",
        "routing.yaml:41:5: receivers.cn-1.pagerduty: routing_key must be 32 characters",
        "routing.yaml:45:13: receivers.md-week.email.to: "
        "String should match pattern '^[^@\\s<>]+@[^@\\s<>]+\\.[^@\\s<>]+$'",
    ]


def test_dangling_references_gaps_and_unreachable_receivers_are_refused() -> None:
    text = (
        GOOD.replace("default_team: north", "default_team: south")
        .replace("telehealth: remote", "telehealth: rmote")
        .replace("low: [email, webhook]", "low: [email, email]")
        .replace(
            "start: 19:00, end: 07:00, receivers: [rn-night]}",
            "start: 19:00, end: 23:00, receivers: [rn-nite]}",
        )
        .replace(
            "      on_call_physician:\n"
            "        - {days: daily, start: 00:00, end: 00:00, receivers: [md-week]}\n",
            "",
        )
        .replace("https://gateway.example/page/md-weekend", "https://gateway.example/page/md-week")
        .replace("  md-weekend:\n    email: {to: md-weekend@medicine.example}\n", "  md-weekend:\n")
    )
    assert problems(text) == [
        "routing.yaml:2:1: default_team: unknown team 'south' (teams: ['north', 'remote'])",
        "routing.yaml:5:3: wards.telehealth: unknown team 'rmote' (teams: ['north', 'remote'])",
        "routing.yaml:9:3: priorities.low: a channel is listed twice",
        "routing.yaml:14:7: teams.north.rota.bedside_nurse: "
        "nobody on duty Mon 23:00-Tue 07:00, Tue 23:00-Wed 07:00, Wed 23:00-Thu 07:00 "
        "and 4 more (Europe/London)",
        "routing.yaml:16:63: teams.north.rota.bedside_nurse[1].receivers[0]: "
        "unknown receiver 'rn-nite'",
        "routing.yaml:24:5: teams.remote.rota: "
        "missing role 'on_call_physician': the chain needs it",
        "routing.yaml:36:3: receivers.rn-night: "
        "no address for any channel of priority low (email, email)",
        "routing.yaml:39:3: receivers.cn-1: "
        "no address for any channel of priority low (email, email)",
        "routing.yaml:45:3: receivers.md-weekend: "
        "no address for any channel of priority low (email, email)",
        "routing.yaml:46:15: receivers.md-weekend.webhook.url: "
        "same URL as receiver 'md-week': a webhook URL identifies one receiver",
    ]


def test_an_unreadable_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(RoutingError) as caught:
        load_routing(tmp_path / "missing.yaml")
    assert str(caught.value) == (
        f"invalid routing file {tmp_path}/missing.yaml (1 problem):\n"
        f"  {tmp_path}/missing.yaml: cannot read the file: No such file or directory"
    )


def test_secrets_resolve_from_env_files_and_inline(tmp_path: Path) -> None:
    env = {"PD_NURSES": KEY_NURSES, "GATEWAY_SECRET": "env-secret"}
    secrets = resolve_receiver_secrets(good(tmp_path), env)
    assert secrets["rn-day"].routing_key == KEY_NURSES
    assert secrets["rn-day"].webhook_secret == b"env-secret"
    assert secrets["rn-night"].routing_key == KEY_NURSES  # file, relative to the routing file
    assert secrets["rn-night"].webhook_secret == b"file-secret"
    assert secrets["cn-1"].routing_key == KEY_CHARGE
    assert secrets["md-weekend"].routing_key is None
    assert KEY_NURSES not in repr(secrets)
    assert "env-secret" not in repr(secrets)


def test_missing_or_wrong_secrets_are_named_without_their_values(tmp_path: Path) -> None:
    routing = good(tmp_path)
    (tmp_path / "secrets" / "gateway").unlink()
    with pytest.raises(RoutingError) as caught:
        resolve_receiver_secrets(routing, {"PD_NURSES": "too-short-key"})
    message = str(caught.value)
    assert [p.render("routing.yaml") for p in caught.value.problems] == [
        "routing.yaml: receivers.rn-day.pagerduty: "
        "routing key from env PD_NURSES has 13 characters, not 32",
        "routing.yaml: receivers.rn-day.webhook: "
        "secret: environment variable GATEWAY_SECRET is not set",
        f"routing.yaml: receivers.rn-night.webhook: "
        f"secret: cannot read {tmp_path}/secrets/gateway: No such file or directory",
        "routing.yaml: receivers.md-week.webhook: "
        "secret: environment variable GATEWAY_SECRET is not set",
        "routing.yaml: receivers.md-weekend.webhook: "
        "secret: environment variable GATEWAY_SECRET is not set",
    ]
    assert "too-short-key" not in message


def test_the_worker_refuses_email_routes_without_a_mail_server(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(GOOD)
    good(tmp_path)  # secret files
    env = {"PD_NURSES": KEY_NURSES, "GATEWAY_SECRET": "s"}
    with pytest.raises(RoutingError) as caught:
        file_routing(PagerSettings(routing_file=path), env)
    assert [p.render("f") for p in caught.value.problems] == [
        "f: receivers: email for ['md-week', 'md-weekend', 'rn-day'] "
        "needs DETOXMON_PAGER__SMTP_HOST"
    ]
    routing = file_routing(PagerSettings(routing_file=path, smtp_host="mail.example"), env)
    assert routing.receivers["rn-day"].email_to == "rn-day@ward.example"
    assert routing.receivers["rn-night"].webhook_secret == b"file-secret"


def test_a_routing_file_and_webhook_urls_together_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(GOOD)
    settings = PagerSettings(routing_file=path, webhook_urls=["http://127.0.0.1:1/page"])
    with pytest.raises(RoutingError, match="WEBHOOK_URLS is set too"):
        load_runtime(settings, {})


def test_without_a_routing_file_every_webhook_url_gets_every_page() -> None:
    settings = PagerSettings(
        webhook_urls=["http://127.0.0.1:1/a", "http://127.0.0.1:2/b"],
        webhook_secret=SecretStr("s3cret"),
    )
    routing = settings_routing(settings)
    assert routing.config is not None
    assert routing.config.priorities["low"] == ("webhook",)
    assert [r.webhook_url for r in routing.receivers.values()] == [
        "http://127.0.0.1:1/a",
        "http://127.0.0.1:2/b",
    ]
    assert all(r.webhook_secret == b"s3cret" for r in routing.receivers.values())
    assert settings_routing(PagerSettings()).config is None


def test_settings_secrets_come_from_the_value_or_a_file_not_both(tmp_path: Path) -> None:
    (tmp_path / "tokens").write_text("token-a\n\ntoken-b\n")
    (tmp_path / "pd").write_text("pd-secret\n")
    settings = PagerSettings(
        ack_tokens=[SecretStr("token-0")],
        ack_tokens_file=tmp_path / "tokens",
        pagerduty_webhook_secret_file=tmp_path / "pd",
    )
    assert [t.get_secret_value() for t in ack_tokens(settings)] == ["token-0", "token-a", "token-b"]
    runtime = load_runtime(settings, {})
    assert runtime.pagerduty_webhook_secret == b"pd-secret"
    assert "pd-secret" not in repr(runtime)
    with pytest.raises(ValueError, match="set x or x_file, not both"):
        settings_secret(SecretStr("a"), tmp_path / "pd", name="x")
