"""Chat channels: each translates its platform's messages into ``Incoming`` and renders ``Reply``.

A channel decides nothing about answers; it needs only something with the dialogue core's
``handle`` (``bot.dialogue.Dialogue``), named here as a protocol so that channels can be tested
with a small stand-in and do not import the core's machinery.
"""

from __future__ import annotations

from typing import Protocol

from bot.types import Incoming, Reply

__all__ = ["DialogueHandler"]


class DialogueHandler(Protocol):
    """The dialogue core as channels see it: one ``Incoming`` in, one ``Reply`` out."""

    async def handle(self, incoming: Incoming) -> Reply: ...
