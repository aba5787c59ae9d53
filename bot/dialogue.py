"""The dialogue core: one ``Incoming`` in, one ``Reply`` out, for every channel.

It routes a message (a command, a follow-up such as 那中山呢？ / 还有吗, or a new question),
keeps each conversation's context in the database (so a restart or a second process keeps it)
and logs every question. It imports no platform library and never raises: whatever goes wrong
inside becomes a polite error reply and a log line. Commands live in ``bot/commands/``, reply
text in ``bot/replies.py``, what is remembered in ``bot/history.py``, how a message is cleaned
and a follow-up recognised in ``bot/routing.py``.

Usage::

    dialogue = Dialogue(service, engine, settings)
    reply = await dialogue.handle(Incoming("console", "u1", "s1", "东莞5G项目能拿多少补贴？"))
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Collection

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot import history, replies
from bot.answering import Answered, AnswerService
from bot.commands import CommandHost, find_command
from bot.history import Context, session_key
from bot.routing import (
    MAX_QUESTION_CHARS,
    Followup,
    SessionLocks,
    checked_text,
    clean_text,
    followup_of,
)
from bot.settings import Settings
from bot.shelf import LookupShelf
from bot.texts import followup_patterns, say
from bot.types import Incoming, Reply
from bot.uploads import Uploads
from retrieval.store import ReloadReport, utc_now

logger = logging.getLogger(__name__)
__all__ = ["MAX_QUESTION_CHARS", "Dialogue", "clean_text", "utc_now"]


class Dialogue(CommandHost):
    """The conversation logic shared by console, CLI, Telegram and WeCom."""

    def __init__(
        self,
        service: AnswerService,
        engine: Engine,
        settings: Settings,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.service = service
        self.engine = engine
        self.settings = settings
        self._clock = clock
        self._locks = SessionLocks()
        self.shelf = LookupShelf(service, engine)
        self.uploads = Uploads(settings, reload=self.reload, documents=service.documents)

    # ------------------------------------------------------------------ entry points

    async def handle(self, incoming: Incoming) -> Reply:
        """Answer one message; messages of one session are handled in order, others in parallel."""
        async with self._locks.of(session_key(incoming)):
            if incoming.attachment is not None and incoming.is_admin:
                fetched = await self.uploads.fetch_attachment(incoming)
                if isinstance(fetched, Reply):
                    return fetched
                incoming = fetched
            return await asyncio.to_thread(self.handle_sync, incoming)

    def handle_sync(self, incoming: Incoming) -> Reply:
        """The blocking core of :meth:`handle` (database and retrieval work); never raises."""
        try:
            return self._dispatch(incoming)
        except Exception:
            logger.exception(
                "dialogue failed (channel=%s session=%s)", incoming.channel, incoming.session_id
            )
            return Reply(text=[say("error", "internal")], kind="error")

    # ------------------------------------------------------------------ what commands use

    def now(self) -> dt.datetime:
        return self._clock()

    def places_text(self) -> str:
        return "、".join(self.service.coverage())

    def reload(self) -> ReloadReport:
        report = self.service.reload(self.settings.corpus_dir)
        self.shelf.refresh()
        return report

    def load_context(self, incoming: Incoming) -> Context | str:
        """The live context, or why there is none: ``"none"`` or ``"expired"``."""
        ttl = dt.timedelta(minutes=self.settings.context_ttl_minutes)
        with Session(self.engine) as session:
            return history.load_context(
                session, key=session_key(incoming), now=self._clock(), ttl=ttl
            )

    # ------------------------------------------------------------------ routing

    def _dispatch(self, incoming: Incoming) -> Reply:
        if incoming.attachment is not None:
            return self.uploads.receive_attachment(incoming)
        text = checked_text(incoming)
        if isinstance(text, Reply):
            return text
        if text.startswith("/"):
            return self._command(incoming, text)
        return self._message(incoming, text)

    def _command(self, incoming: Incoming, text: str) -> Reply:
        head, _, args = text.partition(" ")
        name = head[1:].split("@", 1)[0].lower()
        command = find_command(name)
        if command is None:
            lead = say("commands", "unknown", command=f"/{name}")
            return self._help(incoming, lead=lead)
        if command.admin_only and not incoming.is_admin:
            return replies.refusal(f"/{name}")
        return command.run(self, incoming, args.strip())

    def _message(self, incoming: Incoming, text: str) -> Reply:
        started = time.perf_counter()
        if any(pattern.match(text) for pattern in followup_patterns().thanks):
            return Reply(text=[say("thanks", "reply")], kind="help")
        followup = followup_of(text)
        if followup is not None and followup.kind == "more":
            return self.more(incoming)
        understanding = self.service.understand(text)
        if understanding.is_greeting:
            return self._help(incoming)
        if followup is None and replies.only_places(understanding):
            followup = Followup("switch", text)  # a bare place (中山 / 宝安区): switch to it
        if followup is not None:
            reply = self._switch(incoming, text, followup.subject, started)
            if reply is not None:
                return reply
        return self.ask(incoming, text, text, started=started)

    def _help(self, incoming: Incoming, *, lead: str | None = None) -> Reply:
        buttons = self.shelf.suggest(None, ())
        places = self.places_text()
        return replies.help_reply(
            is_admin=incoming.is_admin, places=places, buttons=buttons, lead=lead
        )

    # ------------------------------------------------------------------ questions

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
    ) -> Reply:
        """Answer ``question`` afresh: the reply, the log entry and a new context."""
        answered = self.service.answer(
            question,
            city=city,
            district=district,
            intents=intents,
            k=self.settings.answers_per_reply,
        )
        understanding = answered.understanding
        city = city or understanding.city
        district = district or (understanding.district if city == understanding.city else None)
        labels = list(intents) if intents else replies.labels_of(understanding.intents)
        abstained = answered.abstained or not answered.answers
        with Session(self.engine) as session:
            question_id = history.log_question(
                session,
                incoming=incoming,
                text=text,
                question=question,
                intents=understanding.intents,
                city=city,
                district=district,
                answer_ids=[answer.passage_id for answer in answered.answers],
                abstained=abstained,
                reason=answered.reason,
                latency_ms=round((time.perf_counter() - started) * 1000),
                now=self._clock(),
            )
            if answered.reason != "unknown_place":
                shown = [answer.passage_id for answer in answered.answers]
                context = Context(question, city, district, labels, shown, question_id)
                history.save_context(
                    session, key=session_key(incoming), context=context, now=self._clock()
                )
        subject = replies.label(city, district, labels, question)
        if abstained:
            return self._abstention(answered, subject, city, labels, question_id)
        lead = say("answer", "lead", label=subject)
        return replies.answers_reply(answered, lead, city, question_id)

    def _abstention(
        self,
        answered: Answered,
        subject: str,
        city: str | None,
        topics: Collection[str],
        question_id: int | None,
    ) -> Reply:
        return replies.abstention(
            answered,
            subject,
            city,
            list(topics),
            question_id,
            places=self.places_text(),
            suggest=self.shelf.suggest,
        )

    def _switch(self, incoming: Incoming, text: str, subject: str, started: float) -> Reply | None:
        """那中山呢 (new place, same topic) or 那人才呢 (same place, new topic); None: not one."""
        about = self.service.understand(subject)
        has_topic = bool(replies.labels_of(about.intents)) or bool(about.content_terms)
        has_place = bool(about.places) or about.unknown_place is not None
        if has_place == has_topic:
            return None  # a whole new question that happens to end in 呢, or nothing to go on
        context = self.load_context(incoming)
        if has_place:
            if isinstance(context, str):
                return replies.ask_back(context, self.shelf.suggest(None, ()))
            if about.unknown_place is not None:
                unknown = Answered(about, abstained=True, reason="unknown_place")
                return self._abstention(unknown, about.unknown_place, None, context.intents, None)
            return self.ask(
                incoming,
                text,
                context.question,
                started=started,
                city=about.city,
                district=about.district,
                intents=context.intents or None,
            )
        if isinstance(context, str):
            return None
        city, district = context.city, context.district
        return self.ask(incoming, text, subject, started=started, city=city, district=district)

    def more(self, incoming: Incoming) -> Reply:
        """The next page of the last question: never an answer already shown."""
        context = self.load_context(incoming)
        if isinstance(context, str):
            return replies.ask_back(context, self.shelf.suggest(None, ()))
        answered = self.service.answer(
            context.question,
            city=context.city,
            district=context.district,
            intents=context.intents or None,
            exclude_ids=context.shown_ids,
            k=self.settings.answers_per_reply,
        )
        subject = replies.label(context.city, context.district, context.intents, context.question)
        fresh = [a for a in answered.answers if a.passage_id not in set(context.shown_ids)]
        if not fresh:
            return Reply(
                text=[say("followup", "no_more", label=subject)],
                buttons=self.shelf.suggest(context.city, context.intents),
                city=context.city,
                intents=answered.understanding.intents,
                question_id=context.question_id,
                kind="command",
            )
        answered.answers = fresh
        first_number = len(context.shown_ids) + 1
        context.shown_ids = [*context.shown_ids, *(a.passage_id for a in fresh)]
        with Session(self.engine) as session:
            history.save_context(
                session, key=session_key(incoming), context=context, now=self._clock()
            )
            history.append_answers(
                session, question_id=context.question_id, passage_ids=[a.passage_id for a in fresh]
            )
        lead = say("answer", "lead_more", label=subject)
        return replies.answers_reply(
            answered, lead, context.city, context.question_id, first_number=first_number
        )
