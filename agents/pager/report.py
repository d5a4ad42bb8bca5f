"""What ``detoxmon routing check`` prints: a file's summary and, for a ward, priority and
time, who would be paged, on which channels and in what escalation order (as
``amtool config routes test`` does for Alertmanager). Secrets print as ``<secret>`` with
where they come from.
"""

from __future__ import annotations

from datetime import datetime

from agents.pager.rota import on_duty
from agents.pager.routing import ChannelName, LoadedRouting, ReceiverConfig
from agents.pager.secrets import MASK, pagerduty_source, webhook_source
from schemas.alerts import ESCALATION_CHAIN, Priority


def summary(routing: LoadedRouting) -> str:
    """One line: the file is valid, and what it holds."""
    config = routing.config
    return (
        f"{routing.source}: SUCCESS ({len(config.teams)} teams, {len(config.wards)} wards, "
        f"{len(config.receivers)} receivers; every role covered around the clock)"
    )


def _address(routing: LoadedRouting, receiver: ReceiverConfig, channel: ChannelName) -> str:
    if channel == "pagerduty":
        source = pagerduty_source(receiver, routing.base_dir)
        assert source is not None
        return f"routing_key={MASK} ({source.describe()})"
    if channel == "webhook":
        source = webhook_source(receiver, routing.base_dir)
        assert receiver.webhook is not None
        assert source is not None
        return f"{receiver.webhook.url} secret={MASK} ({source.describe()})"
    assert receiver.email is not None
    return receiver.email.to


def route_report(
    routing: LoadedRouting, *, ward: str | None, priority: Priority, at: datetime
) -> list[str]:
    """The lines describing who a transition of ``priority`` in ``ward`` at ``at`` pages."""
    config = routing.config
    team_id = config.team_for(ward)
    team = config.teams[team_id]
    local = at.astimezone(team.zone)
    how = "listed" if ward in config.wards else "default team"
    lines = [
        f"ward {ward or '(none)'} -> team {team_id} ({how}; rota time zone {team.time_zone})",
        f"priority {priority} -> {', '.join(config.priorities[priority])} "
        "(each channel falls back to the next); every transition is also logged",
        f"at {at.isoformat()} = {local:%a %Y-%m-%d %H:%M} {team.time_zone}",
        "escalation order (escalation_level: role):",
    ]
    for level, role in enumerate(ESCALATION_CHAIN):
        receivers = on_duty(team.rota[role], team.zone, at)
        lines.append(f"  {level}: {role}: {', '.join(receivers)}")
        for receiver_id in receivers:
            receiver = config.receivers[receiver_id]
            lines.append(f"     {receiver_id}:")
            for order, channel in enumerate(config.channels_for(priority, receiver_id), 1):
                lines.append(f"       {order}. {channel:<9} {_address(routing, receiver, channel)}")
    return lines
