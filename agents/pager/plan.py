"""Who gets a transition, and on which channels in which fallback order.

- ``firing``, ``renotified``, ``escalated``: the receivers on duty, at the transition's event
  time, in the role the alert names (``Alert.escalate_to``), for the team of the alert's ward;
  each on the priority's channels they have an address for.
- ``acknowledged``, ``resolved``: everyone an earlier transition of the alert reached, on the
  channel that reached them first in line (PagerDuty only applies an acknowledge or resolve
  sent with the routing key that opened the incident), falling back to their other channels.
  If nobody was reached (state lost), as for a trigger.

Event time, not the clock, picks the rota, so a redelivery or a replay resolves the same
receivers and the delivered-pages table recognises them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from agents.pager.rota import on_duty
from agents.pager.routing import ChannelName, RoutingConfig
from schemas.alerts import Alert, EscalationRole

TRIGGER_STATES = frozenset({"firing", "renotified", "escalated"})


@dataclass(frozen=True)
class Receiver:
    """A receiver with its addresses and resolved secrets (kept out of reprs)."""

    id: str
    routing_key: str | None = field(default=None, repr=False)
    webhook_url: str | None = None
    webhook_secret: bytes | None = field(default=None, repr=False)
    email_to: str | None = None


@dataclass(frozen=True)
class Carrier:
    """A receiver an alert's page reached, the channel that carried it, and their role."""

    receiver: str
    channel: ChannelName
    role: EscalationRole | None


@dataclass(frozen=True)
class Target:
    """One receiver to notify: ``channels[0]`` first, each next one if the previous stays down."""

    receiver: Receiver
    role: EscalationRole | None
    channels: tuple[ChannelName, ...]

    @property
    def primary(self) -> ChannelName:
        """The channel tried first (part of the delivered-pages key)."""
        return self.channels[0]


@dataclass(frozen=True)
class Routing:
    """A validated routing configuration with its secrets, ready to plan deliveries."""

    config: RoutingConfig | None
    receivers: Mapping[str, Receiver]
    source: str

    def plan(self, alert: Alert, carriers: Sequence[Carrier] = ()) -> list[Target]:
        """The targets of ``alert`` given who earlier transitions reached."""
        config = self.config
        if config is None:
            return []
        if alert.state not in TRIGGER_STATES and carriers:
            return self._follow_up(config, alert, carriers)
        team = config.teams[config.team_for(alert.ward)]
        receivers = on_duty(team.rota[alert.escalate_to], team.zone, alert.at)
        targets = []
        for receiver_id in receivers:
            channels = config.channels_for(alert.priority, receiver_id)
            if channels:
                targets.append(Target(self.receivers[receiver_id], alert.escalate_to, channels))
        return targets

    def _follow_up(
        self, config: RoutingConfig, alert: Alert, carriers: Sequence[Carrier]
    ) -> list[Target]:
        targets = []
        seen: set[tuple[str, str]] = set()
        for carrier in carriers:
            key = (carrier.receiver, carrier.channel)
            if key in seen or carrier.receiver not in self.receivers:
                continue
            seen.add(key)
            reached = {c.channel for c in carriers if c.receiver == carrier.receiver}
            own = (
                config.channels_for(alert.priority, carrier.receiver)
                if carrier.receiver in config.receivers
                else ()
            )
            fallbacks = tuple(channel for channel in own if channel not in reached)
            targets.append(
                Target(
                    self.receivers[carrier.receiver],
                    carrier.role,
                    (carrier.channel, *fallbacks),
                )
            )
        return targets
