"""From a question to cited, verbatim answers: understand, retrieve, compose.

The dialogue core calls this; it knows nothing of chats or sessions. Interface first: the
implementation lands with the retrieval work (issue 3).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from bot.types import Answer, IntentScore


@dataclass(frozen=True, slots=True)
class Place:
    """A place named in text: a city, or a district/town of a city."""

    name: str
    kind: str  # "city" | "district" | "town"
    city: str


@dataclass(slots=True)
class Understanding:
    """What a question is about, before any retrieval."""

    text: str  # normalised question
    intents: list[IntentScore]  # sorted, first is primary; [other] when nothing matched
    cues: dict[str, list[str]]  # intent label -> cue words that decided it
    places: list[Place]  # places named in the question, in order
    city: str | None  # the city searched (from the places), None = all
    district: str | None
    unknown_place: str | None  # a named place with no documents (e.g. 北京): answer honestly
    content_terms: list[str]  # informative tokens, place names and stop words removed
    is_greeting: bool = False  # 你好 / 在吗 / 谢谢 / 你能做什么: help, not a search


@dataclass(slots=True)
class Answered:
    """The outcome of answering: a page of answers, or an honest abstention with its reason."""

    understanding: Understanding
    answers: list[Answer] = field(default_factory=list)
    abstained: bool = False
    reason: str | None = None  # "no_match" | "unknown_place" | "empty" | None when answered
    remaining: int = 0  # further relevant answers after this page (for 更多 / /more)


class AnswerService:  # pragma: no cover - replaced by the implementation in issue 3
    """Answers questions over the live corpus; picks up a reloaded corpus without restart."""

    def understand(self, text: str) -> Understanding:
        raise NotImplementedError

    def answer(
        self,
        question: str,
        *,
        city: str | None = None,
        district: str | None = None,
        intents: Collection[str] | None = None,
        exclude_ids: Collection[str] = (),
        k: int = 3,
    ) -> Answered:
        """Answer ``question``; ``city``/``intents`` override what the question says (follow-ups).

        ``exclude_ids`` are passage ids already shown in this conversation (paging).
        """
        raise NotImplementedError

    def search(self, query: str, *, k: int = 10) -> list[Answer]:
        """Pure ranked retrieval: no intent gating, no abstention."""
        raise NotImplementedError

    def clause(self, passage_id: str) -> Answer | None:
        """The whole clause (excerpt = passage) with its citation, for 原文 buttons."""
        raise NotImplementedError

    def coverage(self) -> dict[str, dict[str, int]]:
        """Per city (and district): clause counts per topic label, for /topics and abstentions."""
        raise NotImplementedError
