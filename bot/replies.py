"""Building the core's replies: answers, honest refusals, asking back and help.

Pure functions of what was found and what to suggest: the dialogue decides which reply a
message gets, these decide what it says and which buttons it carries.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from bot.answering import Answered, Understanding
from bot.texts import say, texts, topic_labels, topic_name
from bot.types import Button, IntentScore, Reply

Suggest = Callable[[str | None, Sequence[str]], list[Button]]  # (city, topics) → lookup buttons

_HAN = re.compile(r"[\u3400-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
LABEL_QUESTION_CHARS = 20  # a label made of the question itself is cut after this many


def labels_of(intents: Sequence[IntentScore]) -> list[str]:
    """Topic labels of an understanding, without ``other``."""
    return [intent.label for intent in intents if intent.label != "other"]


def only_places(understanding: Understanding) -> bool:
    """The message names a place and nothing else to search for."""
    named = bool(understanding.places) or understanding.unknown_place is not None
    return named and not understanding.content_terms and not labels_of(understanding.intents)


def label(city: str | None, district: str | None, intents: Sequence[str], question: str) -> str:
    """「东莞·5G」: the place and up to two topics the answers are about."""
    place = district or city
    parts = [place] if place else []
    parts.extend(topic_name(name) for name in intents[:2])
    if not parts:
        if len(question) <= LABEL_QUESTION_CHARS:
            return question
        return question[:LABEL_QUESTION_CHARS] + "……"
    return "·".join(parts)


def topics_text() -> str:
    return "、".join(topic_name(name) for name in topic_labels())


def answers_reply(
    answered: Answered,
    lead: str,
    city: str | None,
    question_id: int | None,
    *,
    first_number: int = 1,
) -> Reply:
    """The answers with their buttons: more, each clause in full, and feedback."""
    buttons: list[Button] = []
    footer: list[str] = []
    if answered.remaining > 0:
        footer.append(say("answer", "more_hint", remaining=answered.remaining))
        buttons.append(Button(say("commands", "more_button"), "/more", "more"))
    for number in range(first_number, first_number + len(answered.answers)):
        buttons.append(
            Button(say("commands", "full_button", number=number), f"/full {number}", "full")
        )
    if question_id is not None:
        buttons.append(
            Button(say("commands", "up_button"), f"/feedback {question_id} up", "feedback")
        )
        buttons.append(
            Button(say("commands", "down_button"), f"/feedback {question_id} down", "feedback")
        )
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


def abstention(
    answered: Answered,
    subject: str,
    city: str | None,
    topics: Sequence[str],
    question_id: int | None,
    *,
    places: str,
    suggest: Suggest,
) -> Reply:
    """An honest 'not found' with topics and lookups to try instead."""
    if answered.reason == "unknown_place":
        place = answered.understanding.unknown_place or subject
        lines = [say("abstain", "unknown_place", place=place, places=places)]
        city = None
    elif answered.reason == "empty":
        lines = [say("abstain", "empty")]
    else:
        lines = [_not_found(answered.understanding, subject, city, topics, places)]
    buttons = suggest(city, topics)
    lines.append(say("abstain", "suggest_topics", topics=topics_text()))
    if buttons:
        names = "、".join(button.label for button in buttons)
        lines.append(say("abstain", "suggest_lookups", names=names))
        buttons = [replace(button, listed=True) for button in buttons]
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
    understanding: Understanding,
    subject: str,
    city: str | None,
    topics: Sequence[str],
    places: str,
) -> str:
    """Why nothing was found, asking for what is missing rather than echoing the question."""
    if _LATIN_WORD.search(understanding.text) and not _HAN.search(understanding.text):
        return say("abstain", "chinese_only")
    if topics:
        return say("abstain", "no_match", label=subject)
    if city or understanding.places:
        place = understanding.district or city or understanding.places[0].name
        return say("abstain", "need_topic", place=place, topics=topics_text())
    return say("abstain", "need_place_and_topic", places=places, topics=topics_text())


def ask_back(why: str, buttons: list[Button]) -> Reply:
    """A follow-up with nothing to follow: say so (expired or never asked) and offer lookups."""
    key = "expired" if why == "expired" else "no_context"
    return Reply(text=[say("followup", key)], buttons=buttons, kind="ask_back")


def refusal(command: str) -> Reply:
    return Reply(text=[say("refusal", "admin_only", command=command)], kind="refusal")


def help_reply(
    *, is_admin: bool, places: str, buttons: list[Button], lead: str | None = None
) -> Reply:
    """What the bot can do, where, with examples; admins also see their commands."""
    section = texts()["help"]
    lines = [lead] if lead else []
    lines.append(say("help", "intro"))
    lines.append(say("help", "topics_line", topics=topics_text()))
    if places:
        lines.append(say("help", "places_line", places=places))
    examples = "\n".join(f"· {example}" for example in section["examples"])
    lines.append(f"{section['examples_title']}\n{examples}")
    lines.append(say("help", "followups"))
    lines.append(say("help", "commands"))
    if is_admin:
        lines.append(say("help", "admin_commands"))
    return Reply(text=lines, buttons=buttons, kind="help")


def _why(answered: Answered) -> list[str]:
    """A short line of what was matched (and which typos were read as which words)."""
    lines = [
        say("answer", "corrected", wrong=w, right=r) for w, r in answered.understanding.corrections
    ]
    if answered.answers and answered.answers[0].matched:
        lines.append(say("answer", "matched", words="、".join(answered.answers[0].matched)))
    return [" ".join(lines)] if lines else []
