"""The one type in (``Incoming``) and the one type out (``Reply``) of the dialogue core.

Channels translate platform messages into ``Incoming`` and render ``Reply``; they decide
nothing. Nothing here imports a platform library.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

Channel = Literal["cli", "console", "telegram", "wecom", "test"]


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message: its name, and its bytes or how to fetch them.

    Channels pass ``fetch`` (a platform download) and the size the platform declares, so the
    core can refuse a file that is too large before downloading it.
    """

    name: str
    data: bytes | None = None
    fetch: Callable[[], Awaitable[bytes]] | None = None
    size: int | None = None  # declared by the platform; None when it does not say


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message from a person, whatever the platform. Button presses arrive as their command."""

    channel: str
    user_id: str
    session_id: str
    text: str
    is_admin: bool = False
    attachment: Attachment | None = None  # a document sent to the bot (admins add it)


ButtonKind = Literal["more", "full", "feedback", "lookup", "confirm"]


@dataclass(frozen=True, slots=True)
class Button:
    """A one-tap action; pressing it sends ``command`` back as an ``Incoming`` text.

    ``kind`` tells renderers what the button is for (a platform without buttons lists lookups,
    hides votes, ...) and ``listed`` that the core's text already names it, so that they never
    read meaning out of the command or the text.
    """

    label: str
    command: str
    kind: ButtonKind = "lookup"
    listed: bool = False  # the reply's text already names it: a list of choices, not offers


@dataclass(frozen=True, slots=True)
class Answer:
    """One cited clause: a verbatim excerpt and where it comes from (contract's answer object)."""

    doc_number: str | None
    title: str
    authority: str
    date: str | None
    city: str | None
    section: str
    excerpt: str
    passage: str
    passage_id: str
    score: float
    citation: str
    emphasis: tuple[tuple[int, int], ...] = ()
    source: str | None = None  # the file the document was read from
    level: str | None = None  # national | province | city | district (None: place unknown)
    province: str | None = None
    district: str | None = None
    matched: tuple[str, ...] = ()  # the question's words found in the clause

    def segments(self) -> list[tuple[str, bool]]:
        """The excerpt cut into (text, emphasised) runs, for channels that can emphasise."""
        runs: list[tuple[str, bool]] = []
        cursor = 0
        for start, end in sorted(self.emphasis):
            if start < cursor or end <= start:
                continue
            if start > cursor:
                runs.append((self.excerpt[cursor:start], False))
            runs.append((self.excerpt[start:end], True))
            cursor = end
        if cursor < len(self.excerpt):
            runs.append((self.excerpt[cursor:], False))
        return runs

    def to_json(self) -> dict[str, object]:
        return {
            "doc_number": self.doc_number,
            "title": self.title,
            "authority": self.authority,
            "date": self.date,
            "city": self.city,
            "province": self.province,
            "district": self.district,
            "level": self.level,
            "source": self.source,
            "matched": list(self.matched),
            "section": self.section,
            "excerpt": self.excerpt,
            "passage": self.passage,
            "passage_id": self.passage_id,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True, slots=True)
class IntentScore:
    label: str
    score: float
    cues: tuple[str, ...] = ()  # the cue words that decided it (shown in ask --json)

    def to_json(self) -> dict[str, object]:
        return {"label": self.label, "score": round(self.score, 4), "cues": list(self.cues)}


@dataclass(slots=True)
class Reply:
    """What the core says back: text blocks, cited answers, buttons, and facts for logs/JSON.

    ``text`` comes before the answers, ``footer`` after them; both are plain text lines that
    channels escape and render. ``question_id`` identifies the logged question (feedback).
    """

    text: list[str] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    footer: list[str] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    intents: list[IntentScore] = field(default_factory=list)
    city: str | None = None
    abstained: bool = False
    question_id: int | None = None
    kind: str = "answer"  # answer | abstain | help | command | error | ask_back | refusal
    first_number: int = 1  # the first answer's number: /more continues 4, 5, 6 for /full N

    def plain_text(self) -> str:
        """The reply as plain text: how the CLI and the JSON ``reply`` field show it."""
        parts: list[str] = list(self.text)
        for number, answer in enumerate(self.answers, self.first_number):
            parts.append(f"{number}. 「{answer.excerpt}」\n   —— {answer.citation}")
        parts.extend(self.footer)
        return "\n\n".join(part for part in parts if part)
