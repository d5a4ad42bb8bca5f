"""What every channel provides to the delivery loop."""

from __future__ import annotations

from typing import Protocol

from agents.pager.plan import Receiver
from agents.pager.routing import ChannelName
from schemas.alerts import Alert


class Channel(Protocol):
    """Sends one transition to one receiver; raises ``DeliveryError`` when it does not."""

    @property
    def name(self) -> ChannelName:
        """The channel's name in the routing file."""
        ...

    def endpoint(self, receiver: Receiver) -> str:
        """What an outage is tracked by (the service's URL or mail server), no secret."""
        ...

    async def send(self, alert: Alert, body: bytes, receiver: Receiver) -> None:
        """Deliver ``alert`` (``body`` is its JSON as published) to ``receiver``.

        Raises:
            DeliveryError: the channel did not accept it.
        """
        ...
