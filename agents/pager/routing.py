"""Routing and on-call rota as code: which team a ward belongs to, which channels a priority
uses, and who holds each escalation role when.

The file format is documented in ``docs/paging.md`` (example: ``deploy/routing.yaml``). Loading
is strict, like Alertmanager's: unknown or duplicate keys, dangling references (a ward's team,
a rota's receiver), a receiver no channel of some priority can reach, two receivers sharing a
webhook URL, and a role left uncovered at any minute of the week are all errors, and each
error names the file, line, column and path in the document. Secrets are never in the model's
output: a key is given inline, as ``*_file`` (relative to the routing file) or as ``*_env``,
exactly one of them, and is read only by :mod:`agents.pager.secrets`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from agents.pager.errors import Problem, RoutingError
from agents.pager.rota import Shift, coverage_gaps, describe_minute
from agents.pager.yamlfile import YamlDocument, YamlSyntaxError, parse
from schemas.alerts import ESCALATION_CHAIN, EscalationRole, Priority
from schemas.common import StaffId, WardId

ChannelName = Literal["pagerduty", "webhook", "email"]
CHANNELS: tuple[ChannelName, ...] = ("pagerduty", "webhook", "email")
PRIORITIES: tuple[Priority, ...] = ("high", "medium", "low")

TeamId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
EmailAddress = Annotated[str, StringConstraints(pattern=r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")]

#: Length of a PagerDuty integration (routing) key.
ROUTING_KEY_LENGTH = 32


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _exactly_one(model: BaseModel, name: str) -> None:
    options = (name, f"{name}_file", f"{name}_env")
    given = [option for option in options if getattr(model, option) is not None]
    if len(given) != 1:
        raise ValueError(f"set exactly one of {', '.join(options)}")


class PagerDutyAddress(_Strict):
    """A PagerDuty service's Events API v2 integration key."""

    routing_key: SecretStr | None = None
    routing_key_file: Path | None = None
    routing_key_env: EnvName | None = None

    @model_validator(mode="after")
    def _one_source(self) -> PagerDutyAddress:
        _exactly_one(self, "routing_key")
        key = self.routing_key
        if key is not None and len(key.get_secret_value()) != ROUTING_KEY_LENGTH:
            raise ValueError(f"routing_key must be {ROUTING_KEY_LENGTH} characters")
        return self


class WebhookAddress(_Strict):
    """A signed webhook: the URL identifies the receiver (its Idempotency-Key is per URL)."""

    url: AnyHttpUrl
    secret: SecretStr | None = None
    secret_file: Path | None = None
    secret_env: EnvName | None = None

    @model_validator(mode="after")
    def _one_source(self) -> WebhookAddress:
        _exactly_one(self, "secret")
        return self


class EmailTarget(_Strict):
    """An email address (a ward or staff mailbox; pseudonymous where possible)."""

    to: EmailAddress


class ReceiverConfig(_Strict):
    """How one receiver (a person or a shared device) is reached, per channel."""

    pagerduty: PagerDutyAddress | None = None
    webhook: WebhookAddress | None = None
    email: EmailTarget | None = None

    @model_validator(mode="after")
    def _some_channel(self) -> ReceiverConfig:
        if not self.channels():
            raise ValueError(f"give at least one of {', '.join(CHANNELS)}")
        return self

    def channels(self) -> tuple[ChannelName, ...]:
        """Channels this receiver has an address for."""
        return tuple(name for name in CHANNELS if getattr(self, name) is not None)


class TeamConfig(_Strict):
    """A team's time zone and its rota: the shifts of every escalation role."""

    time_zone: str = Field(description="IANA time zone of the rota's clock times.")
    rota: dict[EscalationRole, tuple[Shift, ...]]

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r} (an IANA name such as Europe/London)"
            ) from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The rota's time zone."""
        return ZoneInfo(self.time_zone)


class RoutingConfig(_Strict):
    """The whole routing file."""

    version: Literal[1]
    default_team: TeamId = Field(description="Team for wards not listed, and alerts with none.")
    wards: dict[WardId, TeamId] = Field(default_factory=dict)
    priorities: dict[Priority, tuple[ChannelName, ...]] = Field(
        description="Channels per priority, in fallback order."
    )
    teams: dict[TeamId, TeamConfig]
    receivers: dict[StaffId, ReceiverConfig]

    def team_for(self, ward: str | None) -> str:
        """The team that answers for ``ward``."""
        return self.wards.get(ward, self.default_team) if ward is not None else self.default_team

    def channels_for(self, priority: Priority, receiver: str) -> tuple[ChannelName, ...]:
        """The priority's channels the receiver can be reached on, in fallback order."""
        own = self.receivers[receiver].channels()
        return tuple(channel for channel in self.priorities[priority] if channel in own)


@dataclass(frozen=True)
class LoadedRouting:
    """A valid routing file and where it came from (relative ``*_file`` paths start there)."""

    config: RoutingConfig
    source: str
    base_dir: Path


def _path_text(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def _validation_problems(error: ValidationError) -> list[tuple[tuple[str | int, ...], str]]:
    found = []
    for item in error.errors(include_url=False, include_input=False):
        loc = tuple(part for part in item["loc"] if part != "[key]")
        # pydantic adds the tag of a union member or a function validator to some paths
        loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))
        found.append((loc, _message(item)))
    return found


def _reference_problems(config: RoutingConfig) -> list[tuple[tuple[str | int, ...], str]]:
    found: list[tuple[tuple[str | int, ...], str]] = []
    teams = sorted(config.teams)
    if config.default_team not in config.teams:
        found.append((("default_team",), f"unknown team {config.default_team!r} (teams: {teams})"))
    for ward, team_name in config.wards.items():
        if team_name not in config.teams:
            found.append((("wards", ward), f"unknown team {team_name!r} (teams: {teams})"))
    for priority in PRIORITIES:
        channels = config.priorities.get(priority)
        if channels is None:
            found.append((("priorities",), f"missing priority {priority!r}"))
        elif not channels:
            found.append((("priorities", priority), "list at least one channel"))
        elif len(set(channels)) != len(channels):
            found.append((("priorities", priority), "a channel is listed twice"))
    for team_id, team in config.teams.items():
        for role in ESCALATION_CHAIN:
            shifts = team.rota.get(role)
            if shifts is None:
                found.append(
                    (("teams", team_id, "rota"), f"missing role {role!r}: the chain needs it")
                )
                continue
            found.extend(_shift_problems(config, team_id, role, shifts))
    found.extend(_receiver_problems(config))
    return found


def _shift_problems(
    config: RoutingConfig, team_id: str, role: EscalationRole, shifts: Sequence[Shift]
) -> Iterable[tuple[tuple[str | int, ...], str]]:
    for index, shift in enumerate(shifts):
        for position, receiver in enumerate(shift.receivers):
            if receiver not in config.receivers:
                yield (
                    ("teams", team_id, "rota", role, index, "receivers", position),
                    f"unknown receiver {receiver!r}",
                )
    gaps = coverage_gaps(shifts)
    if gaps:
        described = ", ".join(
            "all week" if start == end else f"{describe_minute(start)}-{describe_minute(end)}"
            for start, end in gaps[:3]
        )
        more = f" and {len(gaps) - 3} more" if len(gaps) > 3 else ""
        zone = config.teams[team_id].time_zone
        yield (("teams", team_id, "rota", role), f"nobody on duty {described}{more} ({zone})")


def _receiver_problems(config: RoutingConfig) -> Iterable[tuple[tuple[str | int, ...], str]]:
    on_rota = {
        receiver
        for team in config.teams.values()
        for shifts in team.rota.values()
        for shift in shifts
        for receiver in shift.receivers
    }
    urls: dict[str, str] = {}
    for receiver_id, receiver in config.receivers.items():
        if receiver.webhook is not None:
            url = str(receiver.webhook.url)
            if url in urls:
                yield (
                    ("receivers", receiver_id, "webhook", "url"),
                    f"same URL as receiver {urls[url]!r}: a webhook URL identifies one receiver",
                )
            urls.setdefault(url, receiver_id)
        if receiver_id not in on_rota:
            continue
        for priority, channels in config.priorities.items():
            if channels and not set(channels) & set(receiver.channels()):
                yield (
                    ("receivers", receiver_id),
                    f"no address for any channel of priority {priority} ({', '.join(channels)})",
                )


def _located(
    document: YamlDocument, found: Iterable[tuple[tuple[str | int, ...], str]]
) -> list[Problem]:
    problems = []
    for path, message in found:
        where = document.locate(path)
        line, column = where if where is not None else (None, None)
        problems.append(Problem(_path_text(path), message, line, column))
    return sorted(problems, key=lambda p: (p.line or 0, p.column or 0, p.path))


def parse_routing(text: str, *, source: str, base_dir: Path) -> LoadedRouting:
    """Validate the text of a routing file.

    Raises:
        RoutingError: every problem found, each located in the file.
    """
    try:
        document = parse(text)
    except YamlSyntaxError as exc:
        raise RoutingError(source, [exc.problem]) from exc
    if not isinstance(document.data, dict):
        raise RoutingError(source, [Problem("", "expected a mapping at the top level", 1, 1)])
    try:
        config = RoutingConfig.model_validate(document.data)
    except ValidationError as exc:
        raise RoutingError(source, _located(document, _validation_problems(exc))) from exc
    problems = _located(document, _reference_problems(config))
    if problems:
        raise RoutingError(source, problems)
    return LoadedRouting(config=config, source=source, base_dir=base_dir)


def load_routing(path: Path) -> LoadedRouting:
    """Read and validate a routing file.

    Raises:
        RoutingError: the file cannot be read, or is invalid.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise RoutingError(str(path), [Problem("", f"cannot read the file: {reason}")]) from exc
    return parse_routing(text, source=str(path), base_dir=path.parent)
