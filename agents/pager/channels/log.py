"""The log channel: every transition is logged, whatever else happens to it.

It is not part of a route's fallback order (a log line reaches nobody, so it must never count
as a page delivered); the agent writes it for every transition. Only ids and codes are logged.
"""

from __future__ import annotations

import logging

from schemas.alerts import Alert

log = logging.getLogger("agents.pager.page")


def log_transition(alert: Alert) -> None:
    """One ``PAGE`` line for the transition."""
    log.info(
        "PAGE %s %s priority=%s patient=%s ward=%s rule=%s alert=%s transition=%s "
        "escalate_to=%s value=%s%s",
        alert.state.upper(),
        alert.summary,
        alert.priority,
        alert.patient_id,
        alert.ward,
        alert.rule_id,
        alert.alert_id,
        alert.transition_id,
        alert.escalate_to,
        alert.evidence.value,
        alert.evidence.unit or "",
    )
