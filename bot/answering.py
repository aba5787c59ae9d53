"""From a question to cited, verbatim answers: understand, retrieve, compose.

The dialogue core calls this; it knows nothing of chats or sessions. It serves the live corpus
and picks up a corpus reloaded by any process (by checking the corpus version) without restart:
the old index keeps answering until the new one is built, then one reference swap.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
import tomllib
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.compose import ExcerptCutter, citation
from bot.settings import Settings
from bot.types import Answer, IntentScore
from intents import OTHER, get_classifier
from intents.classifier import LEXICON_PATH
from retrieval.index_parts import IndexParts
from retrieval.normalize import normalize_text
from retrieval.places import Place, load_gazetteer
from retrieval.search import TIER_PROVINCE, ClauseIndex, Hit, Query, QueryBuilder, get_synonyms
from retrieval.store import (
    LiveCorpus,
    ReloadReport,
    StoredClause,
    StoredDocument,
    ensure_corpus,
    live_version,
    load_live_corpus,
    reload_corpus,
)
from retrieval.tokenize import get_tokenizer

__all__ = ["AnswerService", "Answered", "Place", "Understanding"]

log = logging.getLogger(__name__)
SMALLTALK_PATH = LEXICON_PATH.parent / "smalltalk.toml"
_PUNCTUATION = re.compile(r"[\W_]+", re.UNICODE)

# Relevance, tuned on the dev questions as a whole (not row by row): the top clause must carry
# this share of the question's information, or the honest answer is "not found".
MIN_COVERAGE = 0.47
# Further answers must also be about the question, not just share a word with it.
MIN_COVERAGE_MORE = 0.4
MIN_SCORE_RATIO_MORE = 0.25
# A question that names a place, answered from a national document or one whose place is
# unknown: that answer must carry this much more of the question.
AWAY_MARGIN = 0.15
UNDERSTOOD_KEPT = 64  # recent questions whose understanding is reused (understand, then answer)
SEARCH_DEPTH = 60  # clauses ranked per question; paging goes this deep


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
    content_terms: list[str]  # informative words, place names and stop words removed
    is_greeting: bool = False  # 你好 / 在吗 / 谢谢 / 你能做什么: help, not a search
    # typos read as words: (数子贷, 数字贷)
    corrections: list[tuple[str, str]] = field(default_factory=list)


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
        smalltalk = tomllib.loads(SMALLTALK_PATH.read_text(encoding="utf-8"))
        self._smalltalk = [_PUNCTUATION.sub("", normalize_text(p)) for p in smalltalk["phrases"]]
        self._smalltalk_slack = int(smalltalk.get("slack", 2))
        corpus = ensure_corpus(engine=engine, corpus_dir=settings.corpus_dir)
        self._index = self._build(corpus)
        self._checked_at = time.monotonic()
        self._rebuilding = False
        self._understood: dict[tuple[str, int], tuple[Understanding, Query]] = {}

    # -- the corpus -------------------------------------------------------------------------

    def _build(self, corpus: LiveCorpus) -> ClauseIndex:
        """The version's index: its tokenised parts come from the database when another
        process already built them (see retrieval.index_parts), else are built and stored."""
        parts = IndexParts(self.engine, corpus.version)
        topics = [label for label in self.classifier.order if label != OTHER]
        index = ClauseIndex(
            corpus,
            tokenizer=self.tokenizer,
            topics=topics,
            topic_profile=lambda texts: self.classifier.profile(texts, topics),
            parts=parts,
        )
        self.index_parts = parts
        return index

    @property
    def index(self) -> ClauseIndex:
        """The live index; every few seconds, a cheap check whether another process reloaded."""
        now = time.monotonic()
        if now - self._checked_at >= self.settings.corpus_check_seconds and not self._rebuilding:
            self._checked_at = now
            try:
                version = live_version(self.engine)
            except Exception:  # the database is briefly unreachable: keep serving what we have
                log.warning("could not check the corpus version", exc_info=True)
                version = self._index.version
            if version is not None and version != self._index.version:
                self._rebuilding = True
                threading.Thread(target=self._refresh, name="corpus-refresh", daemon=True).start()
        return self._index

    def _refresh(self) -> None:
        """Build the new corpus's index beside the old one, then swap (old serves meanwhile)."""
        try:
            corpus = load_live_corpus(self.engine)
            if corpus is not None and corpus.version != self._index.version:
                index = self._build(corpus)
                self._index = index  # one reference swap: readers see old or new, never half
                log.info("corpus version %s is live", corpus.version)
        except Exception:
            log.exception("could not load the new corpus; the old one keeps serving")
        finally:
            self._rebuilding = False

    def refresh_now(self) -> None:
        """Pick up the live corpus at once (after this process reloaded it)."""
        self._rebuilding = True
        self._refresh()
        self._checked_at = time.monotonic()

    def reload(self, corpus_dir: Path | None = None) -> ReloadReport:
        """Re-read the corpus folder, swap it in atomically, and serve it from now on."""
        report = reload_corpus(
            engine=self.engine, corpus_dir=corpus_dir or self.settings.corpus_dir
        )
        self.refresh_now()
        return report

    def documents(self) -> list[StoredDocument]:
        return sorted(self.index.documents.values(), key=lambda d: d.source)

    # -- understanding ----------------------------------------------------------------------

    def understand(self, text: str) -> Understanding:
        return self._understand(text, self.index)[0]

    def _understand(self, text: str, index: ClauseIndex) -> tuple[Understanding, Query]:
        """The question understood, and the query it makes. The dialogue understands a
        message, then answers it: the second call reuses the first (a copy: ``answer`` sets
        the place of a follow-up on it)."""
        key = (text, index.version)
        known = self._understood.get(key)
        if known is None:
            known = self._understand_anew(text, index)
            if len(self._understood) >= UNDERSTOOD_KEPT:
                with contextlib.suppress(RuntimeError, KeyError, StopIteration):
                    self._understood.pop(next(iter(self._understood)))
            self._understood[key] = known
        return replace(known[0]), known[1]

    def _understand_anew(self, text: str, index: ClauseIndex) -> tuple[Understanding, Query]:
        normalized = normalize_text(text)
        normalized, corrections = index.corrector.correct(
            normalized,
            self.tokenizer.words(normalized),
            weak=index.weak_word,
            particles=self.tokenizer.stopwords,
        )
        classification = self.classifier.classify(normalized, normalized=True)
        places = self._places(normalized)
        tiers = index.tiers(places)
        unknown = next((p.name for p in places if tiers is not None and not tiers.any()), None)
        intents = {label: score for label, score in classification.scores if label != OTHER}
        query = self.queries.build(normalized, ignore=self._place_words(places), intents=intents)
        first = places[0] if places else None
        understanding = Understanding(
            text=normalized,
            intents=[
                IntentScore(label, score, tuple(classification.cues.get(label, ())))
                for label, score in classification.scores
            ],
            cues=classification.cues,
            places=places,
            city=(first.city or first.name) if first else None,
            district=first.name if first and first.kind not in ("city", "province") else None,
            unknown_place=unknown,
            content_terms=query.content_terms,
            is_greeting=self._is_smalltalk(normalized),
            corrections=[(c.wrong, c.right) for c in corrections],
        )
        return understanding, query

    def _places(self, normalized: str) -> list[Place]:
        """The places a question names, the most specific of each chain (深圳南山 → 南山)."""
        found = self.gazetteer.find(normalized)
        return [p for p in found if not any(o != p and o.within(p) for o in found)]

    def _place_of(self, city: str | None, district: str | None) -> Place | None:
        """The place a follow-up names by city and district (那中山呢)."""
        if district:
            in_city = [
                p for p in self.gazetteer.places_of(city or "") if district in (p.name, p.full)
            ]
            return in_city[0] if in_city else self.gazetteer.lookup(district)
        if city:
            return self.gazetteer.city(city) or self.gazetteer.lookup(city)
        return None

    def _place_words(self, places: list[Place]) -> list[str]:
        words = []
        for place in places:
            words.extend({place.name, place.full})
            words.extend(place.name + suffix for suffix in ("市", "区", "镇", "县", "省"))
        return [w for w in words if w]

    def _is_smalltalk(self, normalized: str) -> bool:
        bare = _PUNCTUATION.sub("", normalized)
        if not bare:
            return False
        return any(
            bare.startswith(phrase) and len(bare) - len(phrase) <= self._smalltalk_slack
            for phrase in self._smalltalk
        )

    # -- answering --------------------------------------------------------------------------

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
        understanding, query = self._understand(question, index)
        places = understanding.places
        if city is not None:
            understanding.city, understanding.district = city, district
            place = self._place_of(city, district)
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
        relevant = self._relevant(
            hits, paging=bool(exclude_ids), topics=query.intents, placed=bool(places)
        )
        if not relevant:
            return Answered(understanding, abstained=True, reason="no_match")
        page = relevant[:k]
        answers = [self._compose(index, hit, query, understanding.text) for hit in page]
        return Answered(understanding, answers=answers, remaining=len(relevant) - len(page))

    def _relevant(
        self, hits: list[Hit], *, paging: bool, topics: dict[str, float], placed: bool
    ) -> list[Hit]:
        """The hits worth showing: about the question's specific topic (5G, talent, loans) when
        it has one; the first must carry enough of the question, the rest must be about it.
        When the question names a place, a national document or one of unknown place must
        carry more of it than the place's own documents do (``placed``)."""
        index = self._index
        general = max(
            (score for label, score in topics.items() if label not in self.classifier.topics),
            default=0.0,
        )
        columns = [  # a topic the question is mainly about, not one it brushes (投资奖励)
            index.labels.index(label)
            for label, score in topics.items()
            if label in self.classifier.topics
            and label in index.labels
            and score >= 0.5
            and score >= general
        ]
        if columns:  # a 5G question is answered by clauses about 5G, not merely about 补贴
            hits = [h for h in hits if index.intent_profile[h.position, columns].max() > 0]
        if not hits:
            return []
        strong = [h for h in hits if h.coverage >= MIN_COVERAGE + _away_margin(h, placed)]
        if not strong and not paging:
            return []
        first = strong[0] if strong else hits[0]
        rest = [
            hit
            for hit in hits
            if hit is not first
            and hit.coverage >= MIN_COVERAGE_MORE + _away_margin(hit, placed)
            and hit.score >= MIN_SCORE_RATIO_MORE * first.score
        ]
        ranked = _one_per_article([first, *rest])
        if not placed:
            return ranked
        # the place's own documents first, then its city's, province's, the nation's, then
        # those of unknown place: among the answers that carry the question, nearest first
        carrying = {h.position for h in strong}
        answering = [h for h in ranked if h.position in carrying]
        answering.sort(key=lambda h: -h.tier)  # stable: by score within a level
        return [*answering, *(h for h in ranked if h.position not in carrying)]

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
        return self._answer(
            hit.document, hit.clause, excerpt.text, excerpt.emphasis, hit.score, hit.matched
        )

    def _answer(
        self,
        document: StoredDocument,
        clause: StoredClause,
        excerpt: str,
        emphasis: tuple[tuple[int, int], ...],
        score: float,
        matched: tuple[str, ...] = (),
    ) -> Answer:
        return Answer(
            doc_number=document.doc_number,
            title=document.title,
            authority=document.authority or "",
            date=document.date,
            city=document.city,
            section=clause.section,
            excerpt=excerpt,
            passage=clause.text,
            passage_id=clause.id,
            score=score,
            citation=citation(document, clause.section),
            emphasis=emphasis,
            source=document.source,
            level=document.level,
            province=document.province,
            district=document.district,
            matched=matched,
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
        return self._answer(document, clause, clause.text, (), 0.0)

    def coverage(self) -> dict[str, dict[str, int]]:
        """Per place (city, or city·district): clause counts per topic label."""
        index = self.index
        result: dict[str, dict[str, int]] = {}
        for row, clause in enumerate(index.clauses):
            document = index.documents[clause.doc_key]
            place = document.city or "其他"
            if document.district:
                place = f"{place}·{document.district}"
            counts = result.setdefault(place, {label: 0 for label in index.labels})
            for column, label in enumerate(index.labels):
                if index.intent_profile[row, column] >= 0.5:
                    counts[label] += 1
        return result


def _away_margin(hit: Hit, placed: bool) -> float:
    """How much more of the question a hit from beyond the place asked must carry."""
    return AWAY_MARGIN if placed and hit.tier < TIER_PROVINCE else 0.0


_ARTICLE = re.compile(r"第[一二三四五六七八九十百零〇0-9]+条")


def _one_per_article(hits: list[Hit]) -> list[Hit]:
    """An article (第X条) is one answer with all its paragraphs: ten answers are ten articles."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for hit in hits:
        match = _ARTICLE.search(hit.clause.section)
        if match is not None:
            article = (hit.clause.doc_key, hit.clause.section[: match.end()])
            if article in seen:
                continue
            seen.add(article)
        kept.append(hit)
    return kept
