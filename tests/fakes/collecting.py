"""A collecting channel: sends ``Incoming`` messages to a dialogue and keeps every ``Reply``.

The smallest possible channel, for driving whole conversations in tests::

    chat = CollectingChannel(dialogue, user="u1", session="s1")
    reply = await chat.say("东莞5G项目能拿多少补贴？")
    await chat.press(reply.buttons[0])
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.answering import AnswerService
from bot.db import create_tables, make_engine
from bot.dialogue import Dialogue
from bot.settings import Settings
from bot.types import Attachment, Button, Incoming, Reply

SEEDS = Path(__file__).resolve().parent.parent.parent / "seeds"


@dataclass
class CollectingChannel:
    """One person in one chat; ``replies`` holds everything the bot said, in order."""

    dialogue: Dialogue
    user: str = "u1"
    session: str = "s1"
    is_admin: bool = False
    channel: str = "test"
    sent: list[str] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)

    async def say(self, text: str) -> Reply:
        """Send ``text`` as this person and return the bot's reply."""
        self.sent.append(text)
        incoming = Incoming(self.channel, self.user, self.session, text, self.is_admin)
        reply = await self.dialogue.handle(incoming)
        self.replies.append(reply)
        return reply

    async def send_file(
        self,
        name: str,
        data: bytes | None = None,
        *,
        fetch: Callable[[], Awaitable[bytes]] | None = None,
        size: int | None = None,
    ) -> Reply:
        """Send a file as this person (its bytes, or a fetcher as platforms give one)."""
        self.sent.append(f"<file {name}>")
        attachment = Attachment(name, data=data, fetch=fetch, size=size)
        incoming = Incoming(self.channel, self.user, self.session, "", self.is_admin, attachment)
        reply = await self.dialogue.handle(incoming)
        self.replies.append(reply)
        return reply

    async def press(self, button: Button) -> Reply:
        """Press a button: channels send its command back as text."""
        return await self.say(button.command)

    @property
    def last(self) -> Reply:
        return self.replies[-1]


class FakeClock:
    """An injectable clock (aware UTC) that tests move forward to expire conversations."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime(2024, 5, 6, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@functools.cache
def seeded_service() -> AnswerService:
    """The real answer service over the seeds, built once per test run (its own SQLite file).

    Dialogue tests give each ``Dialogue`` its own engine for the ``bot_`` tables, so sharing
    the (read-only) service keeps them independent and fast.
    """
    folder = Path(tempfile.mkdtemp(prefix="policybot-corpus-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    url = f"sqlite:///{folder / 'corpus.db'}"
    engine = make_engine(url)
    create_tables(engine)
    return AnswerService(engine, Settings(database_url=url, corpus_dir=SEEDS, _env_file=None))
