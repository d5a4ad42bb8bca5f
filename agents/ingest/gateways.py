"""The gateway registry: who may post messages, proven by a bearer token, and for what.

Each gateway has an id, a token and a scope: the wards and/or devices it may publish for. The
registry is a YAML document (``DETOXMON_INGEST__GATEWAYS_FILE``, or inline in
``DETOXMON_INGEST__GATEWAYS``), loaded strictly when the worker starts: unknown keys, a
missing token, an empty scope or a duplicate are refused with a message naming the gateway
and the field, so a typo fails the deploy instead of silently opening or closing a ward.

Tokens are never written in the file. It holds the token's SHA-256, or names an environment
variable or a file (a mounted secret) to read it from at start; in memory only the hash is
kept. A presented token is hashed and compared with every gateway's hash in constant time. A
plain hash suffices (no password KDF) because the tokens are long random secrets, which a
length check enforces for the tokens the registry reads itself.

Scope: a gateway with ``wards`` may publish for events on those wards (an event naming no ward
is outside); with ``devices``, for those device ids (``*`` matches any run of characters); with
both, an event must pass both.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from agents.contract import ContractError, describe
from agents.settings import IngestSettings, get_settings
from schemas import InboundEvent
from schemas.common import WardId

#: Tokens read from the environment or a file must be at least this long (characters).
MIN_TOKEN_LENGTH = 32

GatewayId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
#: A device id, or a pattern of one where ``*`` matches any run of characters.
DevicePattern = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9*][A-Za-z0-9_.:/*-]{0,127}$")]
TokenSha256 = Annotated[
    str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$", to_lower=True, strip_whitespace=True)
]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class GatewayConfigError(ValueError):
    """The gateway registry cannot be loaded; the message says where and why."""


class GatewayConfig(BaseModel):
    """One gateway as written in the registry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: GatewayId
    token_sha256: TokenSha256 | None = Field(
        default=None, description="Hex SHA-256 of the token (printf %s TOKEN | sha256sum)."
    )
    token_env: EnvName | None = Field(
        default=None, description="Environment variable that holds the token."
    )
    token_file: Path | None = Field(
        default=None,
        description="File that holds the token (a mounted secret); relative to the registry.",
    )
    wards: frozenset[WardId] = Field(default=frozenset(), description="Wards it may publish for.")
    devices: frozenset[DevicePattern] = Field(
        default=frozenset(), description="Device ids (or patterns with *) it may publish for."
    )

    @model_validator(mode="after")
    def _one_token_source_and_a_scope(self) -> Self:
        sources = [
            name
            for name in ("token_sha256", "token_env", "token_file")
            if getattr(self, name) is not None
        ]
        if len(sources) != 1:
            given = f" (got {', '.join(sources)})" if sources else ""
            raise ValueError(f"exactly one of token_sha256, token_env, token_file{given}")
        if not self.wards and not self.devices:
            raise ValueError("wards or devices is required: a gateway without a scope")
        return self


class RegistryDocument(BaseModel):
    """The registry file: a list of gateways with unique ids."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gateways: list[GatewayConfig] = Field(min_length=1)

    @field_validator("gateways")
    @classmethod
    def _unique_ids(cls, gateways: list[GatewayConfig]) -> list[GatewayConfig]:
        seen: set[str] = set()
        for gateway in gateways:
            if gateway.id in seen:
                raise ValueError(f"gateway id {gateway.id!r} appears twice")
            seen.add(gateway.id)
        return gateways


def token_digest(token: str) -> bytes:
    """SHA-256 of a token, the only form in which tokens are kept."""
    return hashlib.sha256(token.encode("utf-8")).digest()


@dataclass(frozen=True)
class Gateway:
    """A gateway ready to authenticate and scope messages."""

    id: str
    digest: bytes
    wards: frozenset[str]
    devices: frozenset[str]

    def scope_error(self, event: InboundEvent) -> ContractError | None:
        """Why ``event`` is outside this gateway's scope, or None when it may publish it."""
        if self.wards and event.ward not in self.wards:
            where = f"ward {event.ward!r}" if event.ward else "an event without a ward"
            return ContractError(
                "out_of_scope",
                f"gateway {self.id!r} may not publish {where}: its wards are {sorted(self.wards)}",
            )
        if self.devices and not any(fnmatchcase(event.device_id, p) for p in self.devices):
            return ContractError(
                "out_of_scope",
                f"gateway {self.id!r} may not publish for device {event.device_id!r}: "
                f"its devices are {sorted(self.devices)}",
            )
        return None


class GatewayRegistry:
    """The gateways by id, and authentication by token."""

    def __init__(self, gateways: Iterable[Gateway]) -> None:
        self._by_id = {gateway.id: gateway for gateway in gateways}

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, gateway_id: str) -> Gateway | None:
        """The gateway with this id, if registered."""
        return self._by_id.get(gateway_id)

    def authenticate(self, token: str) -> Gateway | None:
        """The gateway whose token this is, or None.

        Every hash is compared, in constant time, so the answer's timing does not say which
        gateway (if any) came close.
        """
        presented = token_digest(token)
        found: Gateway | None = None
        for gateway in self._by_id.values():
            if hmac.compare_digest(presented, gateway.digest):
                found = gateway
        return found


def _resolve_token(config: GatewayConfig, environ: Mapping[str, str], base_dir: Path) -> bytes:
    if config.token_sha256 is not None:
        return bytes.fromhex(config.token_sha256)
    if config.token_env is not None:
        token = environ.get(config.token_env, "").strip()
        origin = f"environment variable {config.token_env}"
        if not token:
            raise GatewayConfigError(f"gateway {config.id!r}: {origin} is not set or empty")
    else:
        assert config.token_file is not None  # the model requires one source
        path = (
            config.token_file if config.token_file.is_absolute() else base_dir / config.token_file
        )
        origin = f"token file {path}"
        try:
            token = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise GatewayConfigError(f"gateway {config.id!r}: {origin}: {reason}") from None
    if len(token) < MIN_TOKEN_LENGTH:
        raise GatewayConfigError(
            f"gateway {config.id!r}: the token in {origin} has {len(token)} characters; use "
            f"at least {MIN_TOKEN_LENGTH} random ones, e.g. from "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return token_digest(token)


def parse_registry(
    text: str,
    *,
    source: str,
    environ: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
) -> GatewayRegistry:
    """Parse and check a registry document; ``source`` names it in error messages.

    Raises:
        GatewayConfigError: the document is not YAML, breaks the model, or names a token
            that cannot be read, is too short, or is shared by two gateways.
    """
    env = os.environ if environ is None else environ
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        # Only the problem and its position: the context would quote the document.
        problem = getattr(exc, "problem", None) or type(exc).__name__
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise GatewayConfigError(f"gateway registry {source}: not YAML: {problem}{where}") from None
    try:
        document = RegistryDocument.model_validate(data)
    except ValidationError as exc:
        raise GatewayConfigError(f"gateway registry {source}: {describe(exc)}") from None
    gateways = []
    owners: dict[bytes, str] = {}
    for config in document.gateways:
        digest = _resolve_token(config, env, base_dir or Path.cwd())
        if digest in owners:
            raise GatewayConfigError(
                f"gateway registry {source}: gateways {owners[digest]!r} and {config.id!r} "
                "share a token; each gateway needs its own"
            )
        owners[digest] = config.id
        gateways.append(Gateway(config.id, digest, config.wards, config.devices))
    return GatewayRegistry(gateways)


def load_registry(
    ingest: IngestSettings, environ: Mapping[str, str] | None = None
) -> GatewayRegistry:
    """The registry the settings name (empty when none is configured), checked against them.

    Raises:
        GatewayConfigError: as :func:`parse_registry`, or both a file and an inline registry
            are set, or the MLLP listener is on without a registered ``mllp_gateway``.
    """
    if ingest.gateways_file is not None and ingest.gateways is not None:
        raise GatewayConfigError(
            "set DETOXMON_INGEST__GATEWAYS_FILE or DETOXMON_INGEST__GATEWAYS, not both"
        )
    if ingest.gateways_file is not None:
        path = ingest.gateways_file
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise GatewayConfigError(f"gateway registry {path}: {reason}") from None
        registry = parse_registry(
            text, source=str(path), environ=environ, base_dir=path.resolve().parent
        )
    elif ingest.gateways is not None:
        registry = parse_registry(
            ingest.gateways, source="DETOXMON_INGEST__GATEWAYS", environ=environ
        )
    else:
        registry = GatewayRegistry(())
    if ingest.mllp_port:
        if not ingest.mllp_gateway:
            raise GatewayConfigError(
                "DETOXMON_INGEST__MLLP_GATEWAY is required when the MLLP listener is on: MLLP "
                "has no authentication, so its messages are scoped as that gateway's"
            )
        if registry.get(ingest.mllp_gateway) is None:
            raise GatewayConfigError(
                f"DETOXMON_INGEST__MLLP_GATEWAY names {ingest.mllp_gateway!r}, "
                "which is not in the gateway registry"
            )
    return registry


@lru_cache(maxsize=1)
def current_registry() -> GatewayRegistry:
    """The registry of this process's settings, loaded once (the worker loads it at start)."""
    return load_registry(get_settings().ingest)
