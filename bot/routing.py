"""A message read before the dialogue routes it: its text cleaned, junk refused, follow-ups
known, and the messages of one session handled in order.

Whatever a channel delivers (terminal escapes, zero-width characters, a sticker's empty text)
is cleaned here once, so the rest of the core sees plain text or a polite refusal; a follow-up
(还有吗, 那中山呢) is recognised by the patterns of the data files, not by code.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
import weakref
from dataclasses import dataclass

from bot.texts import followup_patterns, say
from bot.types import Incoming, Reply

MAX_QUESTION_CHARS = 500  # longer messages are refused with a request to shorten them
_INVISIBLE = frozenset({"Cc", "Cf", "Co", "Cs", "Cn"})  # control, format, private, unassigned
_ANSI_ESCAPE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")


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


def checked_text(incoming: Incoming) -> str | Reply:
    """The message's text, cleaned; or the reply refusing it (empty, junk, too long)."""
    text = clean_text(incoming.text or "")
    if not text:
        junk = bool(incoming.text and incoming.text.strip())
        return Reply(text=[say("input", "junk" if junk else "empty")], kind="invalid")
    if not _is_readable(text):
        return Reply(text=[say("input", "junk")], kind="invalid")
    if len(text) > MAX_QUESTION_CHARS:
        message = say("input", "too_long", length=len(text), limit=MAX_QUESTION_CHARS)
        return Reply(text=[message], kind="invalid")
    return text


@dataclass(frozen=True, slots=True)
class Followup:
    """A message that continues the last question: its next page, or another place or topic."""

    kind: str  # "more" | "switch"
    subject: str = ""  # what a switch names (中山 in 那中山呢)


def followup_of(text: str) -> Followup | None:
    """The follow-up ``text`` is (还有吗, 那中山呢), or None for anything else."""
    patterns = followup_patterns()
    if any(pattern.match(text) for pattern in patterns.more):
        return Followup("more")
    for pattern in patterns.switch:
        match = pattern.match(text)
        if match:
            return Followup("switch", match.group("subject").strip())
    return None


class SessionLocks:
    """One lock per session, kept only while a message of it is handled or waiting: a
    session's messages are answered in order (a follow-up after its question), different
    sessions' in parallel."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def of(self, key: str) -> asyncio.Lock:
        """The session's lock, made when none of its messages is in hand."""
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock
