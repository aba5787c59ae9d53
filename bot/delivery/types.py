"""What delivery and the channels exchange: the message a channel translated, the outlet a
channel offers (render, send, "typing…"), the ticket of a recorded message, and send failures."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.types import Attachment, Incoming, Reply


class DeliveryError(Exception):
    """A platform refused a message. ``retryable``: network error, 5xx, 429 (``retry_after``)."""

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retryable = retryable
        self.retry_after = retry_after


class Outlet(Protocol):
    """What delivery needs of a channel: its name, a renderer and one send."""

    name: str

    def render(self, reply: Reply, address: dict[str, Any]) -> dict[str, Any]:
        """``{"messages": [...]}`` (JSON-able, sent in order); WeCom adds "passive" and "rest"."""
        ...

    async def deliver(self, address: dict[str, Any], message: dict[str, Any]) -> None:
        """Send one rendered message; raise :class:`DeliveryError` when it was not accepted."""
        ...

    async def working(self, address: dict[str, Any]) -> None:
        """Show that an answer is being made ("typing…"), if the platform can; cancelled."""
        ...


class Dialogue(Protocol):
    async def handle(self, incoming: Incoming) -> Reply: ...


@dataclass(slots=True)
class Inbound:
    """A message a channel translated: who, what, and where the answer goes."""

    channel: str
    user_id: str
    session_id: str
    text: str
    address: dict[str, Any]
    dedupe_key: str | None = None
    attachment: Attachment | None = None
    hold_until: dt.datetime | None = None  # a callback may answer in its response until then


@dataclass(slots=True)
class Ticket:
    """The outbox row of a submitted message; ``answered`` resolves with its rendered answer."""

    row_id: int
    created: bool
    answered: asyncio.Future[dict[str, Any]] | None = None


@dataclass(slots=True)
class Queued:
    inbound: Inbound
    ticket: Ticket | None = None  # None until recorded (or when recording failed)
    recorded: asyncio.Event = field(default_factory=asyncio.Event)
