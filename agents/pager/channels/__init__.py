"""Notification channels: PagerDuty Events API v2, signed webhooks, email over SMTP, the log."""

from agents.pager.channels.base import Channel
from agents.pager.channels.email import EmailChannel, SmtpConfig
from agents.pager.channels.log import log_transition
from agents.pager.channels.pagerduty import PagerDutyChannel, dedup_key, pagerduty_event
from agents.pager.channels.webhook import WebhookChannel

__all__ = [
    "Channel",
    "EmailChannel",
    "PagerDutyChannel",
    "SmtpConfig",
    "WebhookChannel",
    "dedup_key",
    "log_transition",
    "pagerduty_event",
]
