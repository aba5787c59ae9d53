"""The composition root: settings → engine → tables → answer service → dialogue.

Every channel (console, CLI, Telegram, WeCom) builds its dialogue here, so they all share the
same wiring: ``dialogue = build_dialogue(settings)`` then ``await dialogue.handle(incoming)``.
"""

from __future__ import annotations

from bot.answering import AnswerService
from bot.db import create_tables, make_engine
from bot.dialogue import Dialogue
from bot.settings import Settings


def build_answer_service(settings: Settings) -> AnswerService:
    """The answer service over the live corpus (loaded into the database when missing)."""
    engine = make_engine(settings.database_url)
    create_tables(engine)
    return AnswerService(engine, settings)


def build_dialogue(settings: Settings) -> Dialogue:
    """The dialogue core with its own engine, tables, answer service and default lookups."""
    engine = make_engine(settings.database_url)
    create_tables(engine)
    service = AnswerService(engine, settings)
    return Dialogue(service, engine, settings)
