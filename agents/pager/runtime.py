"""The pager's configuration as the worker runs it: routing, secrets, channels, retry policy.

Everything is read and checked once, at worker start (:mod:`agents.pager.startup`), so a bad
routing file, a missing secret or an email route without a mail server stops the worker with a
message instead of failing at the first page.

Without a routing file, the settings' ``webhook_urls`` form a one-team routing: every
transition goes to each URL (signed with ``webhook_secret`` when set), as before routing
existed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
from pydantic import AnyHttpUrl, SecretStr

from agents.pager.channels import EmailChannel, PagerDutyChannel, SmtpConfig, WebhookChannel
from agents.pager.channels.base import Channel
from agents.pager.delivery import RetryPolicy
from agents.pager.errors import Problem, RoutingError
from agents.pager.plan import Receiver, Routing
from agents.pager.rota import DAYS, Shift
from agents.pager.routing import (
    PRIORITIES,
    ChannelName,
    ReceiverConfig,
    RoutingConfig,
    TeamConfig,
    WebhookAddress,
    load_routing,
)
from agents.pager.secrets import ack_tokens, resolve_receiver_secrets, settings_secret
from agents.settings import PagerSettings
from schemas.alerts import ESCALATION_CHAIN


@dataclass(frozen=True)
class PagerRuntime:
    """What the pager agent and its HTTP endpoints need, secrets resolved."""

    routing: Routing
    policy: RetryPolicy
    events_url: str
    timeout_s: float
    smtp: SmtpConfig | None = None
    ack_tokens: tuple[bytes, ...] = field(default=(), repr=False)
    pagerduty_webhook_secret: bytes | None = field(default=None, repr=False)

    def channels(self, session: aiohttp.ClientSession) -> dict[ChannelName, Channel]:
        """The channels deliveries may use."""
        channels: dict[ChannelName, Channel] = {
            "pagerduty": PagerDutyChannel(session, url=self.events_url, timeout_s=self.timeout_s),
            "webhook": WebhookChannel(session, timeout_s=self.timeout_s),
        }
        if self.smtp is not None:
            channels["email"] = EmailChannel(self.smtp)
        return channels


def settings_routing(pager: PagerSettings) -> Routing:
    """The routing of a deployment without a routing file: every webhook URL gets every page."""
    if not pager.webhook_urls:
        return Routing(config=None, receivers={}, source="settings (no webhook URLs)")
    secret = pager.webhook_secret.get_secret_value().encode() if pager.webhook_secret else None
    ids = [f"webhook-{index}" for index in range(1, len(pager.webhook_urls) + 1)]
    shifts = (Shift(days=DAYS, start="00:00", end="00:00", receivers=tuple(ids)),)
    # Constructed without validation: the settings allow an unsigned webhook, a file does not.
    config = RoutingConfig.model_construct(
        version=1,
        default_team="all",
        wards={},
        priorities={priority: ("webhook",) for priority in PRIORITIES},
        teams={"all": TeamConfig(time_zone="UTC", rota=dict.fromkeys(ESCALATION_CHAIN, shifts))},
        receivers={
            receiver_id: ReceiverConfig.model_construct(
                webhook=WebhookAddress.model_construct(url=AnyHttpUrl(url))
            )
            for receiver_id, url in zip(ids, pager.webhook_urls, strict=True)
        },
    )
    receivers = {
        receiver_id: Receiver(receiver_id, webhook_url=url, webhook_secret=secret)
        for receiver_id, url in zip(ids, pager.webhook_urls, strict=True)
    }
    return Routing(config=config, receivers=receivers, source="DETOXMON_PAGER__WEBHOOK_URLS")


def file_routing(pager: PagerSettings, environ: Mapping[str, str]) -> Routing:
    """The routing of the routing file, its secrets read.

    Raises:
        RoutingError: the file is invalid, a secret is missing, or a channel it uses is not
            configured.
    """
    assert pager.routing_file is not None
    source = str(pager.routing_file)
    if pager.webhook_urls:
        raise RoutingError(
            source,
            [Problem("", "DETOXMON_PAGER__WEBHOOK_URLS is set too; list webhooks in the file")],
        )
    loaded = load_routing(pager.routing_file)
    secrets = resolve_receiver_secrets(loaded, environ)
    config = loaded.config
    if pager.smtp_host is None:
        users = sorted(r for r, c in config.receivers.items() if c.email is not None)
        if users:
            raise RoutingError(
                source,
                [Problem("receivers", f"email for {users} needs DETOXMON_PAGER__SMTP_HOST")],
            )
    receivers = {
        receiver_id: Receiver(
            receiver_id,
            routing_key=secrets[receiver_id].routing_key,
            webhook_url=str(receiver.webhook.url) if receiver.webhook else None,
            webhook_secret=secrets[receiver_id].webhook_secret,
            email_to=receiver.email.to if receiver.email else None,
        )
        for receiver_id, receiver in config.receivers.items()
    }
    return Routing(config=config, receivers=receivers, source=source)


def _bytes(secret: SecretStr | None) -> bytes | None:
    return secret.get_secret_value().encode() if secret is not None else None


def load_runtime(pager: PagerSettings, environ: Mapping[str, str] | None = None) -> PagerRuntime:
    """Read and check everything the pager needs.

    Raises:
        RoutingError: the routing file or a secret it names is unusable.
        ValueError: a secret of the settings (``*_file``) is unusable.
    """
    env = os.environ if environ is None else environ
    routing = file_routing(pager, env) if pager.routing_file else settings_routing(pager)
    smtp = None
    if pager.smtp_host is not None:
        password = settings_secret(
            pager.smtp_password, pager.smtp_password_file, name="smtp_password"
        )
        smtp = SmtpConfig(
            host=pager.smtp_host,
            port=pager.smtp_port,
            security=pager.smtp_security,
            sender=pager.smtp_from,
            timeout_s=pager.timeout_s,
            username=pager.smtp_username,
            password=password.get_secret_value() if password else None,
            ca_file=pager.smtp_ca_file,
        )
    webhook_secret = settings_secret(
        pager.pagerduty_webhook_secret,
        pager.pagerduty_webhook_secret_file,
        name="pagerduty_webhook_secret",
    )
    return PagerRuntime(
        routing=routing,
        policy=RetryPolicy(
            attempts=pager.retry_attempts,
            budget_s=pager.retry_budget_s,
            initial_backoff_s=pager.initial_backoff_s,
            max_backoff_s=pager.max_backoff_s,
        ),
        events_url=pager.pagerduty_events_url,
        timeout_s=pager.timeout_s,
        smtp=smtp,
        ack_tokens=tuple(token.get_secret_value().encode() for token in ack_tokens(pager)),
        pagerduty_webhook_secret=_bytes(webhook_secret),
    )
