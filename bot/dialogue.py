"""The dialogue core: one ``Incoming`` in, one ``Reply`` out, for every channel.

It keeps each conversation's context in the database (so a restart or a second process keeps
it), understands follow-ups (那中山呢？ / 还有吗), runs the chat commands and canned lookups,
and logs every question. It imports no platform library and never raises: whatever goes
wrong inside becomes a polite error reply and a log line.

Usage::

    dialogue = Dialogue(service, engine, settings)
    reply = await dialogue.handle(Incoming("console", "u1", "s1", "东莞5G项目能拿多少补贴？"))
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import re
import time
import unicodedata
import weakref
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.answering import Answered, AnswerService, Understanding
from bot.lookups import (
    PlaceRef,
    default_lookups,
    delete_lookup,
    get_lookup,
    list_lookups,
    lookup_templates,
    name_limit,
    save_lookup,
    sync_default_lookups,
    valid_name,
)
from bot.models import BotContext, BotLookup, BotQuestion
from bot.settings import Settings
from bot.stats import collect_stats, stats_lines
from bot.texts import TOPIC_LABELS, followup_patterns, say, texts, topic_name
from bot.types import Button, Incoming, IntentScore, Reply
from bot.uploads import Uploads
from retrieval.ladder import top_rung
from retrieval.normalize import normalize_text
from retrieval.store import ReloadReport, StoredClause, StoredDocument

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 500  # longer messages are refused with a request to shorten them
ADMIN_COMMANDS = frozenset({"reload", "stats", "upload", "remove"})
LOOKUP_VERBS = frozenset({"add", "del"})  # /lookup add|del …: admins only
_INVISIBLE = frozenset({"Cc", "Cf", "Co", "Cs", "Cn"})  # control, format, private, unassigned
_ANSI_ESCAPE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")
_HAN = re.compile(r"[\u3400-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_BRACKETS = str.maketrans(
    {"[": "〔", "]": "〕", "［": "〔", "］": "〕", "【": "〔", "】": "〕", "(": "〔", ")": "〕"}
)


def utc_now() -> dt.datetime:
    """Aware UTC now: every stored time is UTC (sqlmodel insists on aware datetimes)."""
    return dt.datetime.now(dt.UTC)


def clean_text(text: str) -> str:
    """Drop terminal escapes, control and invisible characters; fold white space; strip."""
    kept = []
    for char in _ANSI_ESCAPE.sub("", text):
        if char in "\n\r\t":
            kept.append(" ")
        elif unicodedata.category(char) not in _INVISIBLE and char != "\ufffd":
            kept.append(char)
    return " ".join("".join(kept).split())


def _is_readable(text: str) -> bool:
    """At least one letter or digit (CJK counts as a letter): otherwise it is junk."""
    return any(unicodedata.category(char)[0] in "LN" for char in text)


@dataclass(slots=True)
class Context:
    """A conversation's state as the dialogue uses it (the row is ``BotContext``)."""

    question: str
    city: str | None
    district: str | None
    intents: list[str]
    shown_ids: list[str]
    question_id: int | None


@dataclass(frozen=True, slots=True)
class _Followup:
    kind: str  # "more" | "switch"
    subject: str = ""


class Dialogue:
    """The conversation logic shared by console, CLI, Telegram and WeCom."""

    def __init__(
        self,
        service: AnswerService,
        engine: Engine,
        settings: Settings,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self._service = service
        self._engine = engine
        self._settings = settings
        self._clock = clock
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._lookups_version: str | None = None  # the corpus version the defaults follow
        self._lookup_finds: dict[tuple[str, str, str | None, str | None], bool] = {}
        self._commands: dict[str, Callable[[Incoming, str], Reply]] = {
            "start": self._cmd_help,
            "help": self._cmd_help,
            "topics": self._cmd_topics,
            "lookup": self._cmd_lookup,
            "doc": self._cmd_doc,
            "more": lambda incoming, _args: self._more(incoming),
            "full": self._cmd_full,
            "feedback": self._cmd_feedback,
            "reload": self._cmd_reload,
            "stats": self._cmd_stats,
            "upload": self._cmd_upload,
            "remove": self._cmd_remove,
        }
        self._uploads = Uploads(settings, reload=self._reload, documents=service.documents)
        self.refresh_default_lookups()

    # ------------------------------------------------------------------ entry points

    async def handle(self, incoming: Incoming) -> Reply:
        """Answer one message; messages of one session are handled in order, others in parallel."""
        key = _session_key(incoming)
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        async with lock:
            if incoming.attachment is not None and incoming.is_admin:
                fetched = await self._fetch_attachment(incoming)
                if isinstance(fetched, Reply):
                    return fetched
                incoming = fetched
            return await asyncio.to_thread(self.handle_sync, incoming)

    async def _fetch_attachment(self, incoming: Incoming) -> Incoming | Reply:
        """Download an admin's file through the channel's fetcher, refusing one too large first."""
        attachment = incoming.attachment
        assert attachment is not None
        if (refusal := self._uploads.too_large(attachment.size)) is not None:
            return refusal
        if attachment.data is not None or attachment.fetch is None:
            return incoming
        try:
            data = await attachment.fetch()
        except Exception:
            logger.exception("fetching %s from %s failed", attachment.name, incoming.channel)
            return Reply(text=[say("upload", "download_failed")], kind="error")
        return replace(incoming, attachment=replace(attachment, data=bytes(data), fetch=None))

    def handle_sync(self, incoming: Incoming) -> Reply:
        """The blocking core of :meth:`handle` (database and retrieval work); never raises."""
        try:
            return self._dispatch(incoming)
        except Exception:
            logger.exception(
                "dialogue failed (channel=%s session=%s)", incoming.channel, incoming.session_id
            )
            return Reply(text=[say("error", "internal")], kind="error")

    def refresh_default_lookups(self) -> int:
        """Make the default lookups follow the live corpus; returns how many were created.

        Also called whenever the corpus version changed (a reload by any process), so that
        /lookup never offers a lookup derived from a document that is gone.
        """
        version = self._service.index.version
        lookups = default_lookups(self._service.coverage(), self._resolve_place)
        created, removed = sync_default_lookups(engine=self._engine, lookups=lookups)
        if removed:
            logger.info("removed %d default lookups no longer in the corpus", removed)
        self._lookups_version = version
        self._lookup_finds.clear()
        return created

    def _visible_lookups(self) -> list[tuple[BotLookup, bool]]:
        """The visible lookups, each with whether it still finds anything in the live corpus."""
        if self._service.index.version != self._lookups_version:
            self.refresh_default_lookups()
        return [
            (row, self._lookup_finds_something(row)) for row in list_lookups(engine=self._engine)
        ]

    def _lookup_finds_something(self, lookup: BotLookup) -> bool:
        """Defaults do by construction; an admin's is tried once per corpus version."""
        if lookup.is_default:
            return True
        key = (lookup.name, lookup.question, lookup.city, lookup.district)
        if key not in self._lookup_finds:
            answered = self._service.answer(
                lookup.question, city=lookup.city, district=lookup.district, k=1
            )
            self._lookup_finds[key] = bool(answered.answers) and not answered.abstained
        return self._lookup_finds[key]

    # ------------------------------------------------------------------ routing

    def _dispatch(self, incoming: Incoming) -> Reply:
        if incoming.attachment is not None:
            return self._attachment(incoming)
        text = clean_text(incoming.text or "")
        if not text:
            junk = bool(incoming.text and incoming.text.strip())
            return Reply(text=[say("input", "junk" if junk else "empty")], kind="invalid")
        if not _is_readable(text):
            return Reply(text=[say("input", "junk")], kind="invalid")
        if len(text) > MAX_QUESTION_CHARS:
            message = say("input", "too_long", length=len(text), limit=MAX_QUESTION_CHARS)
            return Reply(text=[message], kind="invalid")
        if text.startswith("/"):
            return self._command(incoming, text)
        return self._message(incoming, text)

    def _command(self, incoming: Incoming, text: str) -> Reply:
        head, _, args = text.partition(" ")
        name = head[1:].split("@", 1)[0].lower()
        handler = self._commands.get(name)
        if handler is None:
            return self._help(incoming, lead=say("commands", "unknown", command=f"/{name}"))
        if name in ADMIN_COMMANDS and not incoming.is_admin:
            return self._refusal(f"/{name}")
        return handler(incoming, args.strip())

    def _message(self, incoming: Incoming, text: str) -> Reply:
        started = time.perf_counter()
        if any(pattern.match(text) for pattern in followup_patterns().thanks):
            return Reply(text=[say("thanks", "reply")], kind="help")
        followup = self._followup(text)
        if followup is not None and followup.kind == "more":
            return self._more(incoming)
        understanding = self._service.understand(text)
        if understanding.is_greeting:
            return self._help(incoming)
        if followup is None and _only_places(understanding):
            followup = _Followup("switch", text)  # a bare place (中山 / 宝安区): switch to it
        if followup is not None:
            reply = self._switch(incoming, text, followup.subject, started)
            if reply is not None:
                return reply
        return self._ask(incoming, text, text, started=started)

    def _followup(self, text: str) -> _Followup | None:
        patterns = followup_patterns()
        if any(pattern.match(text) for pattern in patterns.more):
            return _Followup("more")
        for pattern in patterns.switch:
            match = pattern.match(text)
            if match:
                return _Followup("switch", match.group("subject").strip())
        return None

    # ------------------------------------------------------------------ questions

    def _ask(
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
        answered = self._service.answer(
            question,
            city=city,
            district=district,
            intents=intents,
            k=self._settings.answers_per_reply,
        )
        understanding = answered.understanding
        city = city or understanding.city
        district = district or (understanding.district if city == understanding.city else None)
        labels = list(intents) if intents else _labels(understanding.intents)
        question_id = self._log(
            incoming,
            text=text,
            question=question,
            answered=answered,
            city=city,
            district=district,
            latency_ms=round((time.perf_counter() - started) * 1000),
        )
        if answered.reason != "unknown_place":
            self._save_context(
                incoming,
                Context(
                    question=question,
                    city=city,
                    district=district,
                    intents=labels,
                    shown_ids=[answer.passage_id for answer in answered.answers],
                    question_id=question_id,
                ),
            )
        label = self._label(city, district, labels, question)
        if answered.abstained or not answered.answers:
            return self._abstention(answered, label, city, labels, question_id)
        return self._answers(answered, say("answer", "lead", label=label), city, question_id)

    def _switch(self, incoming: Incoming, text: str, subject: str, started: float) -> Reply | None:
        """那中山呢 (new place, same topic) or 那人才呢 (same place, new topic); None: not one."""
        about = self._service.understand(subject)
        has_topic = bool(_labels(about.intents)) or bool(about.content_terms)
        has_place = bool(about.places) or about.unknown_place is not None
        if has_place == has_topic:
            return None  # a whole new question that happens to end in 呢, or nothing to go on
        context = self._load_context(incoming)
        if has_place:
            if isinstance(context, str):
                return self._ask_back(context)
            if about.unknown_place is not None:
                return self._abstention(
                    Answered(about, abstained=True, reason="unknown_place"),
                    about.unknown_place,
                    None,
                    context.intents,
                    None,
                )
            return self._ask(
                incoming,
                text,
                context.question,
                started=started,
                city=about.city,
                district=about.district,
                intents=context.intents or None,
            )
        if not isinstance(context, str):
            return self._ask(
                incoming,
                text,
                subject,
                started=started,
                city=context.city,
                district=context.district,
            )
        return None

    def _more(self, incoming: Incoming) -> Reply:
        """The next page of the last question: never an answer already shown."""
        context = self._load_context(incoming)
        if isinstance(context, str):
            return self._ask_back(context)
        answered = self._service.answer(
            context.question,
            city=context.city,
            district=context.district,
            intents=context.intents or None,
            exclude_ids=context.shown_ids,
            k=self._settings.answers_per_reply,
        )
        label = self._label(context.city, context.district, context.intents, context.question)
        fresh = [a for a in answered.answers if a.passage_id not in set(context.shown_ids)]
        if not fresh:
            return Reply(
                text=[say("followup", "no_more", label=label)],
                buttons=self._lookup_buttons(context.city, context.intents),
                city=context.city,
                intents=answered.understanding.intents,
                question_id=context.question_id,
                kind="command",
            )
        answered.answers = fresh
        first_number = len(context.shown_ids) + 1
        context.shown_ids = [*context.shown_ids, *(a.passage_id for a in fresh)]
        self._save_context(incoming, context)
        self._append_answers(context.question_id, [a.passage_id for a in fresh])
        lead = say("answer", "lead_more", label=label)
        return self._answers(
            answered, lead, context.city, context.question_id, first_number=first_number
        )

    # ------------------------------------------------------------------ composing replies

    def _answers(
        self,
        answered: Answered,
        lead: str,
        city: str | None,
        question_id: int | None,
        *,
        first_number: int = 1,
    ) -> Reply:
        buttons: list[Button] = []
        footer: list[str] = []
        if answered.remaining > 0:
            footer.append(say("answer", "more_hint", remaining=answered.remaining))
            buttons.append(Button(say("commands", "more_button"), "/more"))
        for number in range(first_number, first_number + len(answered.answers)):
            label = say("commands", "full_button", number=number)
            buttons.append(Button(label, f"/full {number}"))
        if question_id is not None:
            buttons.append(Button(say("commands", "up_button"), f"/feedback {question_id} up"))
            buttons.append(Button(say("commands", "down_button"), f"/feedback {question_id} down"))
        return Reply(
            text=[lead, *_why(answered)],
            answers=list(answered.answers),
            footer=footer,
            buttons=buttons,
            intents=answered.understanding.intents,
            city=city,
            abstained=False,
            question_id=question_id,
            kind="answer",
            first_number=first_number,
        )

    def _abstention(
        self,
        answered: Answered,
        label: str,
        city: str | None,
        topics: Sequence[str],
        question_id: int | None,
    ) -> Reply:
        """An honest 'not found' with topics and lookups to try instead."""
        if answered.reason == "unknown_place":
            place = answered.understanding.unknown_place or label
            lines = [say("abstain", "unknown_place", place=place, places=self._places_text())]
            city = None
        elif answered.reason == "empty":
            lines = [say("abstain", "empty")]
        else:
            lines = [self._not_found(answered.understanding, label, city, topics)]
        buttons = self._lookup_buttons(city, topics)
        lines.append(say("abstain", "suggest_topics", topics=self._topics_text()))
        if buttons:
            names = "、".join(button.label for button in buttons)
            lines.append(say("abstain", "suggest_lookups", names=names))
        return Reply(
            text=lines,
            buttons=buttons,
            intents=answered.understanding.intents,
            city=city,
            abstained=True,
            question_id=question_id,
            kind="abstain",
        )

    def _not_found(
        self, understanding: Understanding, label: str, city: str | None, topics: Sequence[str]
    ) -> str:
        """Why nothing was found, asking for what is missing rather than echoing the question."""
        if _LATIN_WORD.search(understanding.text) and not _HAN.search(understanding.text):
            return say("abstain", "chinese_only")
        if topics:
            return say("abstain", "no_match", label=label)
        if city or understanding.places:
            place = understanding.district or city or understanding.places[0].name
            return say("abstain", "need_topic", place=place, topics=self._topics_text())
        return say(
            "abstain",
            "need_place_and_topic",
            places=self._places_text(),
            topics=self._topics_text(),
        )

    def _ask_back(self, why: str) -> Reply:
        key = "expired" if why == "expired" else "no_context"
        return Reply(
            text=[say("followup", key)], buttons=self._lookup_buttons(None, ()), kind="ask_back"
        )

    def _refusal(self, command: str) -> Reply:
        return Reply(text=[say("refusal", "admin_only", command=command)], kind="refusal")

    def _help(self, incoming: Incoming, *, lead: str | None = None) -> Reply:
        section = texts()["help"]
        lines = [lead] if lead else []
        lines.append(say("help", "intro"))
        lines.append(say("help", "topics_line", topics=self._topics_text()))
        places = self._places_text()
        if places:
            lines.append(say("help", "places_line", places=places))
        examples = "\n".join(f"· {example}" for example in section["examples"])
        lines.append(f"{section['examples_title']}\n{examples}")
        lines.append(say("help", "followups"))
        lines.append(say("help", "commands"))
        if incoming.is_admin:
            lines.append(say("help", "admin_commands"))
        return Reply(text=lines, buttons=self._lookup_buttons(None, ()), kind="help")

    def _label(
        self, city: str | None, district: str | None, intents: Sequence[str], question: str
    ) -> str:
        """「东莞·5G」: the place and up to two topics the answers are about."""
        parts = [district or city] if city or district else []
        parts.extend(topic_name(label) for label in intents[:2])
        if not parts:
            return question if len(question) <= 20 else question[:20] + "……"
        return "·".join(parts)

    def _topics_text(self) -> str:
        return "、".join(topic_name(label) for label in TOPIC_LABELS)

    def _places_text(self) -> str:
        return "、".join(self._service.coverage())

    def _lookup_buttons(self, city: str | None, topics: Sequence[str]) -> list[Button]:
        """A few canned lookups, those of this place and topic first."""
        limit = int(lookup_templates()["limits"]["suggested"])
        lookups = [row for row, finds in self._visible_lookups() if finds]

        def rank(lookup: BotLookup) -> tuple[int, int]:
            return (0 if city and lookup.city == city else 1, 0 if lookup.topic in topics else 1)

        chosen = sorted(lookups, key=rank)[:limit]
        return [Button(lookup.name, f"/lookup {lookup.name}") for lookup in chosen]

    def _resolve_place(self, key: str) -> PlaceRef:
        """A coverage key (``东莞``, ``深圳·宝安``) as a place: named by its smallest part."""
        city, _, district = key.partition("·")
        return PlaceRef(name=district or city, city=city or None, district=district or None)

    # ------------------------------------------------------------------ commands

    def _cmd_help(self, incoming: Incoming, _args: str) -> Reply:
        return self._help(incoming)

    def _cmd_topics(self, _incoming: Incoming, _args: str) -> Reply:
        lines = [say("topics_cmd", "title")]
        descriptions = texts()["topic_descriptions"]
        lines.extend(
            say("topics_cmd", "topic_line", name=topic_name(label), description=descriptions[label])
            for label in TOPIC_LABELS
        )
        coverage = self._service.coverage()
        if coverage:
            lines.append(say("topics_cmd", "coverage_title"))
            for place, counts in coverage.items():
                shown = "、".join(
                    say("topics_cmd", "coverage_count", name=topic_name(label), count=counts[label])
                    for label in TOPIC_LABELS
                    if counts.get(label, 0) > 0
                )
                lines.append(
                    say(
                        "topics_cmd",
                        "coverage_line",
                        place=place,
                        counts=shown or say("topics_cmd", "coverage_none"),
                    )
                )
        return Reply(
            text=["\n".join(lines)], buttons=self._lookup_buttons(None, ()), kind="command"
        )

    def _cmd_lookup(self, incoming: Incoming, args: str) -> Reply:
        verb, _, rest = args.partition(" ")
        verb = verb.lower()
        if verb in LOOKUP_VERBS:
            if not incoming.is_admin:
                return self._refusal(f"/lookup {verb}")
            if verb == "add":
                return self._lookup_add(rest)
            return self._lookup_del(rest.strip())
        if args:
            return self._lookup_run(incoming, args)
        lookups = self._visible_lookups()
        if not lookups:
            return Reply(text=[say("lookup", "none")], kind="command")
        lines = [say("lookup", "title")]
        lines.extend(
            say("lookup", "line" if finds else "stale_line", name=row.name, question=row.question)
            for row, finds in lookups
        )
        buttons = [Button(row.name, f"/lookup {row.name}") for row, finds in lookups if finds]
        return Reply(text=["\n".join(lines)], buttons=buttons, kind="command")

    def _lookup_add(self, rest: str) -> Reply:
        name, _, question = (part.strip() for part in rest.partition("="))
        if not name or not question:
            return Reply(text=[say("lookup", "usage_add")], kind="command")
        if not valid_name(name) or name.lower() in LOOKUP_VERBS:
            return Reply(text=[say("lookup", "bad_name", limit=name_limit())], kind="command")
        understanding = self._service.understand(question)
        labels = _labels(understanding.intents)
        row = save_lookup(
            engine=self._engine,
            name=name,
            question=question,
            city=understanding.city,
            district=understanding.district,
            topic=labels[0] if labels else None,
        )
        return Reply(
            text=[say("lookup", "added", name=row.name, question=row.question)], kind="command"
        )

    def _lookup_del(self, name: str) -> Reply:
        if not name:
            return Reply(text=[say("lookup", "usage_del")], kind="command")
        if not delete_lookup(engine=self._engine, name=name):
            return Reply(text=[say("lookup", "not_found", name=name)], kind="command")
        return Reply(text=[say("lookup", "deleted", name=name)], kind="command")

    def _lookup_run(self, incoming: Incoming, name: str) -> Reply:
        lookup = get_lookup(engine=self._engine, name=name)
        if lookup is None:
            return Reply(
                text=[say("lookup", "not_found", name=name)],
                buttons=self._lookup_buttons(None, ()),
                kind="command",
            )
        return self._ask(
            incoming,
            lookup.question,
            lookup.question,
            started=time.perf_counter(),
            city=lookup.city,
            district=lookup.district,
        )

    def _cmd_doc(self, _incoming: Incoming, query: str) -> Reply:
        if not query:
            return Reply(text=[say("doc", "usage")], kind="command")
        documents = self._service.documents()
        matches = _match_documents(documents, query)
        if len(matches) == 1:
            outline = _outline(matches[0], self._service.index.clauses)
            return Reply(text=[_document_card(matches[0], outline)], kind="command")
        if not matches:
            lead, candidates = say("doc", "not_found", query=query), documents
        else:
            lead, candidates = say("doc", "choose", query=query), matches
        lines = [lead, *(say("doc", "list_line", label=_doc_label(doc)) for doc in candidates)]
        buttons = [Button(_doc_label(doc)[:30], f"/doc {_doc_key(doc)}") for doc in candidates]
        return Reply(text=["\n".join(lines)], buttons=buttons, kind="command")

    def _cmd_full(self, incoming: Incoming, args: str) -> Reply:
        """``/full 2``: the whole clause of answer 2 of this conversation (or a passage id)."""
        if not args:
            return Reply(text=[say("full", "usage")], kind="command")
        passage_id = args.split()[0]
        number = 1
        if passage_id.isdigit():
            number = int(passage_id)
            context = self._load_context(incoming)
            shown = [] if isinstance(context, str) else context.shown_ids
            if not 1 <= number <= len(shown):
                return Reply(text=[say("full", "no_number", number=number)], kind="command")
            passage_id = shown[number - 1]
        clause = self._service.clause(passage_id)
        if clause is None:
            return Reply(text=[say("full", "not_found")], kind="command")
        return Reply(
            text=[say("full", "lead")],
            answers=[clause],
            city=clause.city,
            kind="command",
            first_number=number,  # shown under the number it was asked by
        )

    def _cmd_feedback(self, incoming: Incoming, args: str) -> Reply:
        parts = args.split()
        if len(parts) != 2 or not parts[0].isdigit() or parts[1].lower() not in {"up", "down"}:
            return Reply(text=[say("feedback", "usage")], kind="command")
        question_id, verdict = int(parts[0]), parts[1].lower()
        with Session(self._engine) as session:
            row = session.get(BotQuestion, question_id)
            if row is None or row.channel != incoming.channel or row.user_id != incoming.user_id:
                return Reply(text=[say("feedback", "not_found")], kind="command")
            row.feedback, row.feedback_at = verdict, self._clock()
            session.add(row)
            session.commit()
        return Reply(text=[say("feedback", f"thanks_{verdict}")], kind="command")

    def _reload(self) -> ReloadReport:
        report = self._service.reload(self._settings.corpus_dir)
        self.refresh_default_lookups()
        return report

    def _attachment(self, incoming: Incoming) -> Reply:
        """A file sent to the bot: an admin's is previewed for adding; others get the hint."""
        attachment = incoming.attachment
        if attachment is None or not incoming.is_admin:
            return Reply(text=[say("upload", "not_admin")], kind="hint")
        if attachment.data is None:
            return Reply(text=[say("upload", "download_failed")], kind="error")
        return self._uploads.receive(attachment.name, attachment.data)

    def _cmd_upload(self, _incoming: Incoming, args: str) -> Reply:
        verb, _, token = args.partition(" ")
        if verb == "add" and token.strip():
            return self._uploads.add(token.strip())
        if verb == "cancel" and token.strip():
            return self._uploads.cancel(token.strip())
        return Reply(text=[say("upload", "usage")], kind="command")

    def _cmd_remove(self, _incoming: Incoming, args: str) -> Reply:
        verb, _, rest = args.partition(" ")
        if verb == "confirm" and rest.strip():
            return self._uploads.remove(rest.strip())
        if verb == "cancel":
            return Reply(text=[say("remove", "cancelled")], kind="command")
        if not args:
            return Reply(text=[say("remove", "usage")], kind="command")
        documents = self._service.documents()
        wanted = _norm_number(args)
        exact = [doc for doc in documents if _norm_number(doc.doc_number or "") == wanted]
        matches = exact or _match_documents(documents, args)
        if len(matches) == 1:
            return self._uploads.ask_remove(matches[0])
        if not matches:
            return Reply(text=[say("remove", "not_found", query=args)], kind="command")
        lines = [say("remove", "choose", query=args)]
        lines.extend(say("doc", "list_line", label=_doc_label(doc)) for doc in matches)
        buttons = [Button(_doc_label(doc)[:30], f"/remove {_doc_key(doc)}") for doc in matches]
        return Reply(text=["\n".join(lines)], buttons=buttons, kind="command")

    def _cmd_reload(self, _incoming: Incoming, _args: str) -> Reply:
        try:
            report = self._reload()
        except Exception as error:  # a bad corpus folder is reported to the admin, not raised
            logger.exception("reload failed")
            return Reply(text=[say("reload", "failed", error=error)], kind="command")
        lines = [say("reload", "lead"), *report.summary_lines()]
        return Reply(text=["\n".join(lines)], kind="command")

    def _cmd_stats(self, _incoming: Incoming, _args: str) -> Reply:
        stats = collect_stats(engine=self._engine, now=self._clock())
        return Reply(text=["\n".join(stats_lines(stats))], kind="command")

    # ------------------------------------------------------------------ storage

    def _load_context(self, incoming: Incoming) -> Context | str:
        """The live context, or why there is none: ``"none"`` or ``"expired"``."""
        with Session(self._engine) as session:
            row = session.get(BotContext, _session_key(incoming))
        if row is None:
            return "none"
        ttl = dt.timedelta(minutes=self._settings.context_ttl_minutes)
        if self._clock() - row.updated_at > ttl:
            return "expired"
        return Context(
            question=row.last_question,
            city=row.city,
            district=row.district,
            intents=list(row.intents),
            shown_ids=list(row.shown_ids),
            question_id=row.question_id,
        )

    def _save_context(self, incoming: Incoming, context: Context) -> None:
        key = _session_key(incoming)
        with Session(self._engine) as session:
            row = session.get(BotContext, key) or BotContext(
                session_key=key, last_question=context.question, updated_at=self._clock()
            )
            row.last_question = context.question
            row.city, row.district = context.city, context.district
            row.intents = list(context.intents)
            row.shown_ids = list(context.shown_ids)
            row.question_id = context.question_id
            row.updated_at = self._clock()
            session.add(row)
            session.commit()

    def _log(
        self,
        incoming: Incoming,
        *,
        text: str,
        question: str,
        answered: Answered,
        city: str | None,
        district: str | None,
        latency_ms: int,
    ) -> int | None:
        row = BotQuestion(
            channel=incoming.channel,
            user_id=incoming.user_id,
            session_id=incoming.session_id,
            text=text,
            question=question,
            intents=[
                {"label": i.label, "score": round(i.score, 4)}
                for i in answered.understanding.intents
            ],
            city=city,
            district=district,
            answer_ids=[answer.passage_id for answer in answered.answers],
            abstained=answered.abstained or not answered.answers,
            reason=answered.reason,
            kind="abstain" if answered.abstained or not answered.answers else "answer",
            latency_ms=latency_ms,
            created_at=self._clock(),
        )
        with Session(self._engine) as session:
            session.add(row)
            session.commit()
            session.refresh(row)
        return row.id

    def _append_answers(self, question_id: int | None, passage_ids: list[str]) -> None:
        if question_id is None:
            return
        with Session(self._engine) as session:
            row = session.get(BotQuestion, question_id)
            if row is not None:
                row.answer_ids = [*row.answer_ids, *passage_ids]
                session.add(row)
                session.commit()


# ---------------------------------------------------------------------- helpers


def _session_key(incoming: Incoming) -> str:
    key = f"{incoming.channel}:{incoming.session_id}"
    if len(key) > 200:
        key = f"{incoming.channel}:sha1:{hashlib.sha1(key.encode()).hexdigest()}"
    return key


def _only_places(understanding: Understanding) -> bool:
    """The message names a place and nothing else to search for."""
    named = bool(understanding.places) or understanding.unknown_place is not None
    return named and not understanding.content_terms and not _labels(understanding.intents)


def _labels(intents: Sequence[IntentScore]) -> list[str]:
    """Topic labels of an understanding, without ``other``."""
    return [intent.label for intent in intents if intent.label != "other"]


def _norm_number(text: str) -> str:
    """A 文号 as compared: simplified, half-width, no spaces, one kind of bracket
    (揭府規〔2020〕3號 and 揭府规[2020]3号 are one number)."""
    return "".join(normalize_text(text).split()).translate(_BRACKETS)


def _bigrams(text: str) -> set[str]:
    compact = "".join(text.split())
    return {compact[i : i + 2] for i in range(len(compact) - 1)} or {compact}


def _match_documents(documents: Sequence[StoredDocument], query: str) -> list[StoredDocument]:
    """Documents whose number contains the query, else those whose title covers most of it."""
    wanted = _norm_number(query)
    numbered = [
        doc for doc in documents if doc.doc_number and wanted in _norm_number(doc.doc_number)
    ]
    if numbered:
        return numbered
    query_grams = _bigrams(query)
    scored = [
        (len(query_grams & _bigrams(f"{doc.title}{doc.authority or ''}")) / len(query_grams), doc)
        for doc in documents
    ]
    best = max((score for score, _ in scored), default=0.0)
    if best < 0.5:
        return []
    return [doc for score, doc in scored if score >= best - 1e-9]


def _doc_key(document: StoredDocument) -> str:
    """What to send after /doc to get exactly this document (≤ 64 bytes with the command)."""
    return document.doc_number or "".join(document.title.split())[:18]


def _doc_label(document: StoredDocument) -> str:
    return f"{document.doc_number} {document.title}" if document.doc_number else document.title


def _outline(document: StoredDocument, clauses: Sequence[StoredClause]) -> list[tuple[str, str]]:
    """Top-level headings in reading order: (section, heading title)."""
    outline: list[tuple[str, str]] = []
    seen: set[str] = set()
    for clause in sorted(
        (c for c in clauses if c.doc_key == document.key), key=lambda c: c.ordinal
    ):
        if not clause.headings:
            continue
        section = top_rung(clause.section)
        if section in seen:
            continue
        seen.add(section)
        heading = clause.headings[0]
        outline.append(("" if heading.startswith(section) else section, heading))
    return outline


def _document_card(document: StoredDocument, outline: Sequence[tuple[str, str]]) -> str:
    """Title, authority, number, date, recipient, place, source and the outline of sections."""
    lines = [say("doc", "title", title=document.title)]
    if document.authority:
        lines.append(say("doc", "authority", value=document.authority))
    number = document.doc_number
    lines.append(say("doc", "number", value=number) if number else say("doc", "no_number"))
    if document.date:
        lines.append(say("doc", "date", value=document.date))
    if document.recipient:
        lines.append(say("doc", "recipient", value=document.recipient))
    place = "·".join(part for part in (document.city, document.district) if part)
    if place:
        lines.append(say("doc", "place", value=place))
    lines.append(say("doc", "source", value=document.source))
    if outline:
        lines.append(say("doc", "outline_title"))
        lines.extend(
            say("doc", "outline_line", section=section, heading=heading).rstrip()
            for section, heading in outline
        )
    lines.append(say("doc", "clauses", count=document.clause_count))
    return "\n".join(lines)


def _why(answered: Answered) -> list[str]:
    """A short line of what was matched (and which typos were read as which words)."""
    lines = [
        say("answer", "corrected", wrong=w, right=r) for w, r in answered.understanding.corrections
    ]
    if answered.answers and answered.answers[0].matched:
        lines.append(say("answer", "matched", words="、".join(answered.answers[0].matched)))
    return [" ".join(lines)] if lines else []
