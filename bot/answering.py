"""From a question to cited, verbatim answers: understand, retrieve, judge, compose.

The dialogue core calls this; it knows nothing of chats or sessions. The steps live in their
own modules (``understanding``, ``retrieval.search``, ``relevance``, ``compose``) and the
index of the live corpus in ``live_corpus``; this one puts a question through them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.compose import ExcerptCutter, answer_of
from bot.live_corpus import LiveIndex, topic_coverage
from bot.relevance import relevant_hits
from bot.settings import Settings
from bot.types import Answer
from bot.understanding import QuestionReader, Understanding
from intents import OTHER, get_classifier
from retrieval.index_parts import IndexParts
from retrieval.places import Place, load_gazetteer
from retrieval.search import ClauseIndex, Hit, Query, QueryBuilder, get_synonyms
from retrieval.store import ReloadReport, StoredDocument
from retrieval.tokenize import get_tokenizer
from zhtext.normalize import normalize_text

__all__ = ["AnswerService", "Answered", "Place", "Understanding"]

SEARCH_DEPTH = 60  # clauses ranked per question; paging goes this deep


@dataclass(slots=True)
class Answered:
    """The outcome of answering: a page of answers, or an honest abstention with its reason."""

    understanding: Understanding
    answers: list[Answer] = field(default_factory=list)
    abstained: bool = False
    reason: str | None = None  # "no_match" | "unknown_place" | "empty" | None when answered
    remaining: int = 0  # further relevant answers after this page (for 更多 / /more)


class AnswerService:
    """Answers questions over the live corpus; picks up a reloaded corpus without restart."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.tokenizer = get_tokenizer(settings.cache_dir)
        self.classifier = get_classifier()
        self.gazetteer = load_gazetteer(cache_dir=settings.cache_dir)
        self.queries = QueryBuilder(self.tokenizer, get_synonyms())
        self.cutter = ExcerptCutter(self.tokenizer)
        self.reader = QuestionReader(
            tokenizer=self.tokenizer,
            classifier=self.classifier,
            gazetteer=self.gazetteer,
            queries=self.queries,
        )
        self.live = LiveIndex(
            engine, settings, tokenizer=self.tokenizer, classifier=self.classifier
        )

    # -- the corpus -------------------------------------------------------------------------

    @property
    def index(self) -> ClauseIndex:
        """The live index; every few seconds, a cheap check whether another process reloaded."""
        return self.live.checked()

    @property
    def index_parts(self) -> IndexParts:
        """The parts of the live index, and which were loaded or built (the bench reports it)."""
        return self.live.parts

    def refresh_now(self) -> None:
        """Pick up the live corpus at once (after this process reloaded it)."""
        self.live.refresh_now()

    def reload(self, corpus_dir: Path | None = None) -> ReloadReport:
        """Re-read the corpus folder, swap it in atomically, and serve it from now on."""
        return self.live.reload(corpus_dir)

    def documents(self) -> list[StoredDocument]:
        return sorted(self.index.documents.values(), key=lambda d: d.source)

    # -- answering --------------------------------------------------------------------------

    def understand(self, text: str) -> Understanding:
        return self.reader.understand(text, self.index)[0]

    def answer(
        self,
        question: str,
        *,
        city: str | None = None,
        district: str | None = None,
        intents: Collection[str] | None = None,
        exclude_ids: Collection[str] = (),
        k: int | None = None,
    ) -> Answered:
        """Answer ``question``; ``city``/``intents`` override what the question says (follow-ups).

        ``exclude_ids`` are passage ids already shown in this conversation (paging).
        """
        k = k or self.settings.answers_per_reply
        index = self.index
        understanding, query = self.reader.understand(question, index)
        places = understanding.places
        if city is not None:
            understanding.city, understanding.district = city, district
            place = self.reader.place_of(city, district)
            places = [place] if place is not None else []
        tiers = index.tiers(places)
        understanding.unknown_place = next(
            (p.name for p in places if tiers is not None and not tiers.any()), None
        )
        if intents is not None:
            query = replace(query, intents={label: 1.0 for label in intents if label != OTHER})
        if understanding.unknown_place:
            return Answered(understanding, abstained=True, reason="unknown_place")
        if not query.content_terms:
            return Answered(understanding, abstained=True, reason="empty")
        hits = index.search(query, k=SEARCH_DEPTH, tiers=tiers, exclude_ids=exclude_ids)
        relevant = relevant_hits(
            hits,
            index,
            specific_topics=self.classifier.topics,
            paging=bool(exclude_ids),
            topics=query.intents,
            placed=bool(places),
        )
        if not relevant:
            return Answered(understanding, abstained=True, reason="no_match")
        page = relevant[:k]
        answers = [self._compose(index, hit, query, understanding.text) for hit in page]
        return Answered(understanding, answers=answers, remaining=len(relevant) - len(page))

    def _compose(self, index: ClauseIndex, hit: Hit, query: Query, question: str) -> Answer:
        """The hit as an answer; ``index`` is the one that found it (a reload may swap in
        another while a question is answered)."""
        excerpt = self.cutter.cut(
            hit.clause.text,
            query,
            question=question,
            seams=hit.clause.seams,
            context=index.title_words(hit.position),
        )
        return answer_of(
            hit.document, hit.clause, excerpt.text, excerpt.emphasis, hit.score, hit.matched
        )

    def search(self, query: str, *, k: int = 10) -> list[Answer]:
        """Pure ranked retrieval: no intent gating, no place filter, no abstention."""
        index = self.index
        built = self.queries.build(query)
        if not built.terms:
            return []
        hits = index.search(built, k=k)
        return [self._compose(index, hit, built, normalize_text(query)) for hit in hits]

    def clause(self, passage_id: str) -> Answer | None:
        """The whole clause (excerpt = passage) with its citation, for 原文 buttons."""
        index = self.index
        position = index.position_of.get(passage_id)
        if position is None:
            return None
        clause = index.clauses[position]
        document = index.documents[clause.doc_key]
        return answer_of(document, clause, clause.text, (), 0.0)

    def coverage(self) -> dict[str, dict[str, int]]:
        """Per place (city, or city·district): clause counts per topic label."""
        return topic_coverage(self.index)
