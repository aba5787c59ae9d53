"""The command registry: a chat command is one function, registered once with its name,
whether only admins may run it, and its help text (``[command_help]`` in texts.toml)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.engine import Engine

from bot.answering import AnswerService
from bot.history import Context
from bot.settings import Settings
from bot.shelf import LookupShelf
from bot.texts import say
from bot.types import Incoming, Reply
from retrieval.store import ReloadReport

if TYPE_CHECKING:  # the upload handling (and its document reader) loads when a file comes
    from bot.uploads import Uploads


class CommandHost(Protocol):
    """What of the dialogue a command may use."""

    service: AnswerService
    engine: Engine
    settings: Settings
    uploads: Uploads
    shelf: LookupShelf

    def now(self) -> dt.datetime: ...

    def places_text(self) -> str: ...

    def load_context(self, incoming: Incoming) -> Context | str: ...

    def more(self, incoming: Incoming) -> Reply: ...

    def reload(self) -> ReloadReport: ...

    def ask(
        self,
        incoming: Incoming,
        text: str,
        question: str,
        *,
        started: float,
        city: str | None = None,
        district: str | None = None,
        intents: Collection[str] | None = None,
    ) -> Reply: ...


Handler = Callable[[CommandHost, Incoming, str], Reply]  # (host, message, arguments) → reply


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    run: Handler
    admin_only: bool = False

    @property
    def help(self) -> str:
        """One line on what the command does, for menus and the help text."""
        return say("command_help", self.name)


_REGISTRY: dict[str, Command] = {}


def command(*names: str, admin_only: bool = False) -> Callable[[Handler], Handler]:
    """Register a handler under one or more names (``/start`` and ``/help`` share one)."""

    def register(run: Handler) -> Handler:
        for name in names:
            if name in _REGISTRY:
                raise ValueError(f"command /{name} registered twice")
            _REGISTRY[name] = Command(name, run, admin_only)
        return run

    return register


def find_command(name: str) -> Command | None:
    return _REGISTRY.get(name)


def all_commands() -> list[Command]:
    """Every command, in the order registered."""
    return list(_REGISTRY.values())
