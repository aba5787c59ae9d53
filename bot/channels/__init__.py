"""Chat channels: each translates its platform's messages into ``Incoming`` and renders ``Reply``.

A channel decides nothing about answers, queues, retries or who is an admin: it hands what a
person sent to ``bot.delivery.Delivery`` and renders and sends what comes back. Every channel has
the same shape (:class:`Channel`): ``routes`` for the one HTTP server, ``start``/``stop``, and
the delivery outlet (``render``, ``deliver``, ``working``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from starlette.routing import BaseRoute

from bot.types import Incoming, Reply

__all__ = ["Channel", "DialogueHandler"]


class DialogueHandler(Protocol):
    """The dialogue core as channels see it: one ``Incoming`` in, one ``Reply`` out."""

    async def handle(self, incoming: Incoming) -> Reply: ...


class Channel(Protocol):
    """One platform: its HTTP routes, one lifecycle, and the delivery outlet."""

    name: str

    @property
    def routes(self) -> Sequence[BaseRoute]: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def render(self, reply: Reply, address: dict[str, Any]) -> dict[str, Any]: ...

    async def deliver(self, address: dict[str, Any], message: dict[str, Any]) -> None: ...

    async def working(self, address: dict[str, Any]) -> None: ...
