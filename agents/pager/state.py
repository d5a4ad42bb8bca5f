"""The pager's topics and tables.

Both tables are written by the pager agent while it handles a transition, so each entry lands
in the changelog partition of the alerts-topic partition it came from (the topic is keyed by
patient), and a worker that takes over that partition recovers exactly the entries it needs.
Values are JSON text: faust cannot restore ``dict`` or ``bool`` values from a changelog (it
calls ``from_data`` on the type during recovery), so such a table would come back empty.

- ``pager-alerts``: alert id -> :class:`AlertRecord` (patient, ward, state, who was reached),
  for the acknowledgement endpoint and the follow-up transitions.
- ``pager-delivered``: ``<transition>/<receiver>/<first channel>`` -> the channel that
  carried it; checked before sending, so a redelivery or replay pages nobody twice.

Both are :class:`ConfirmedTable` instances: the agent waits until the broker has each entry
before it pages the next receiver or acknowledges the event. A buffered entry dies with a
worker that stops or crashes right after a page, and the worker that redelivers the event
pages again. (Waiting was first added because the embedded broker under-reports changelog
end offsets, so recovery missed the tail of a multi-entry batch and the new owner paged again,
about one page in 200; :class:`agents.faust_fixes.ChangelogEndConsumer` now corrects those
ends for every table, see ``docs/embedded-broker.md``.)
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import faust
from faust.types import AppT, FutureMessage
from faust.types.codecs import CodecArg
from pydantic import AwareDatetime, BaseModel, ConfigDict

from agents.app import app
from agents.pager.plan import Carrier
from agents.pager.routing import ChannelName
from schemas.alerts import Alert, AlertState, EscalationRole, Priority
from schemas.common import PatientId, WardId
from streams import topics


def _raw_topic(name: str) -> faust.TopicT:
    return app.topic(
        name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )


acks_topic = _raw_topic(topics.ACKS)
audit_topic = _raw_topic(topics.PAGER_AUDIT)


class ConfirmedTable(faust.Table[str, str]):
    """A table whose changelog writes can be awaited until the broker has them.

    Faust sends a table write through the producer's buffer and offers no way to wait for it.
    """

    def __init__(self, app: AppT, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._unconfirmed: list[FutureMessage] = []

    def send_changelog(
        self,
        partition: int | None,
        key: Any,
        value: Any,
        key_serializer: CodecArg | None = None,
        value_serializer: CodecArg | None = None,
    ) -> FutureMessage:
        """Faust's send, remembering the record so :meth:`confirmed` can wait for it."""
        fut = super().send_changelog(partition, key, value, key_serializer, value_serializer)
        self._unconfirmed.append(fut)
        return fut

    async def confirmed(self) -> None:
        """Wait until the broker has every write made so far; raise if one was refused."""
        while self._unconfirmed:
            await self._unconfirmed.pop(0)


def _confirmed_table(name: str) -> ConfirmedTable:
    table = ConfirmedTable(app, name=name, key_type=str, value_type=str, beacon=app.tables.beacon)
    app.tables.add(table)
    return table


alerts_table = _confirmed_table("pager-alerts")
delivered_table = _confirmed_table("pager-delivered")


class AlertRecord(BaseModel):
    """What the pager keeps of an alert."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alert_id: UUID
    patient_id: PatientId
    ward: WardId | None
    rule_id: str
    priority: Priority
    state: AlertState
    sequence: int
    first_paged_at: AwareDatetime
    carriers: tuple[tuple[str, ChannelName, EscalationRole | None], ...] = ()

    def carrier_list(self) -> list[Carrier]:
        """Who earlier transitions reached, in order."""
        return [Carrier(receiver, channel, role) for receiver, channel, role in self.carriers]

    def updated(self, alert: Alert) -> AlertRecord:
        """The record after ``alert`` (an older transition, replayed, does not turn it back)."""
        if alert.sequence < self.sequence:
            return self
        return self.model_copy(
            update={"state": alert.state, "sequence": alert.sequence, "priority": alert.priority}
        )

    def reached(self, carriers: list[Carrier]) -> AlertRecord:
        """The record with ``carriers`` added (each receiver and channel once)."""
        known = list(self.carriers)
        for carrier in carriers:
            entry = (carrier.receiver, carrier.channel, carrier.role)
            if not any(k[:2] == entry[:2] for k in known):
                known.append(entry)
        return self.model_copy(update={"carriers": tuple(known)})


def get_record(alert_id: UUID | str) -> AlertRecord | None:
    """The record of an alert this worker holds, if any."""
    raw = alerts_table.get(str(alert_id))
    return AlertRecord.model_validate_json(raw) if raw else None


async def put_record(record: AlertRecord) -> None:
    """Store a record (only while handling an alerts-topic event), once the broker has it."""
    alerts_table[str(record.alert_id)] = record.model_dump_json()
    await alerts_table.confirmed()
