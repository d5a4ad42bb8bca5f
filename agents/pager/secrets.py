"""Reading the secrets a routing file and the pager settings name, and nothing else.

A secret is given inline, in a file (``*_file``; a relative path is relative to the routing
file, as Alertmanager's ``*_file`` options are) or in an environment variable (``*_env``).
Values are read once at worker start, so a missing file or variable stops the worker with a
message naming where it was looked for, never the value. Printed, a secret is ``<secret>``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from agents.pager.errors import Problem, RoutingError
from agents.pager.routing import ROUTING_KEY_LENGTH, LoadedRouting, ReceiverConfig
from agents.settings import PagerSettings

MASK = "<secret>"


@dataclass(frozen=True)
class SecretSource:
    """Where a secret comes from, printable: ``inline``, ``file PATH`` or ``env NAME``."""

    inline: SecretStr | None = None
    file: Path | None = None
    env: str | None = None

    def describe(self) -> str:
        """Where the secret is read from, never its value."""
        if self.file is not None:
            return f"file {self.file}"
        if self.env is not None:
            return f"env {self.env}"
        return "inline"

    def read(self, environ: Mapping[str, str]) -> str:
        """The secret's value.

        Raises:
            ValueError: the file or variable is missing or empty (the message has no value).
        """
        if self.inline is not None:
            value = self.inline.get_secret_value()
        elif self.file is not None:
            try:
                value = self.file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"cannot read {self.file}: {exc.strerror or exc}") from exc
        elif self.env is not None:
            value = environ.get(self.env, "").strip()
            if not value:
                raise ValueError(f"environment variable {self.env} is not set")
        else:
            raise ValueError("no secret given")
        if not value:
            raise ValueError(f"{self.describe()} is empty")
        return value


def _relative(base: Path, path: Path | None) -> Path | None:
    return None if path is None else (path if path.is_absolute() else base / path)


def pagerduty_source(receiver: ReceiverConfig, base: Path) -> SecretSource | None:
    """Where a receiver's PagerDuty routing key comes from."""
    address = receiver.pagerduty
    if address is None:
        return None
    return SecretSource(
        address.routing_key, _relative(base, address.routing_key_file), address.routing_key_env
    )


def webhook_source(receiver: ReceiverConfig, base: Path) -> SecretSource | None:
    """Where a receiver's webhook signing secret comes from."""
    address = receiver.webhook
    if address is None:
        return None
    return SecretSource(address.secret, _relative(base, address.secret_file), address.secret_env)


@dataclass(frozen=True)
class ReceiverSecrets:
    """One receiver's resolved secrets (kept out of reprs)."""

    routing_key: str | None = field(default=None, repr=False)
    webhook_secret: bytes | None = field(default=None, repr=False)


def resolve_receiver_secrets(
    routing: LoadedRouting, environ: Mapping[str, str] | None = None
) -> dict[str, ReceiverSecrets]:
    """Read every receiver's secrets.

    Raises:
        RoutingError: a secret is missing, empty or (a routing key) not 32 characters.
    """
    env = os.environ if environ is None else environ
    problems: list[Problem] = []
    resolved: dict[str, ReceiverSecrets] = {}
    for receiver_id, receiver in routing.config.receivers.items():
        routing_key = webhook_secret = None
        source = pagerduty_source(receiver, routing.base_dir)
        if source is not None:
            path = f"receivers.{receiver_id}.pagerduty"
            try:
                routing_key = source.read(env)
            except ValueError as exc:
                problems.append(Problem(path, f"routing key: {exc}"))
            else:
                if len(routing_key) != ROUTING_KEY_LENGTH:
                    problems.append(
                        Problem(
                            path,
                            f"routing key from {source.describe()} has {len(routing_key)} "
                            f"characters, not {ROUTING_KEY_LENGTH}",
                        )
                    )
        source = webhook_source(receiver, routing.base_dir)
        if source is not None:
            try:
                webhook_secret = source.read(env).encode()
            except ValueError as exc:
                problems.append(Problem(f"receivers.{receiver_id}.webhook", f"secret: {exc}"))
        resolved[receiver_id] = ReceiverSecrets(routing_key, webhook_secret)
    if problems:
        raise RoutingError(routing.source, problems)
    return resolved


def settings_secret(value: SecretStr | None, file: Path | None, *, name: str) -> SecretStr | None:
    """A secret from the settings or its ``*_file`` variant (not both).

    Raises:
        ValueError: both are set, or the file cannot be read or is empty.
    """
    if value is not None and file is not None:
        raise ValueError(f"set {name} or {name}_file, not both")
    if file is None:
        return value
    return SecretStr(SecretSource(file=file).read({}))


def ack_tokens(pager: PagerSettings) -> list[SecretStr]:
    """Bearer tokens accepted by the acknowledgement endpoint (settings and the tokens file).

    Raises:
        ValueError: the tokens file cannot be read.
    """
    tokens = [token for token in pager.ack_tokens if token.get_secret_value()]
    if pager.ack_tokens_file is not None:
        text = SecretSource(file=pager.ack_tokens_file).read({})
        tokens.extend(SecretStr(line.strip()) for line in text.splitlines() if line.strip())
    return tokens
