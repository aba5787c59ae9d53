"""How a clause ranks: its fields' BM25 scores added, then moved up by what the question is about.

Each field (jieba words, characters and pairs, the document's title and issuer) is scaled to
its best clause before the fields are added, so no field drowns the others; clauses about the
question's topic, or holding what it asks for (a date, a phone), then move up.

``ClauseFields.scores`` and ``topic_and_kind_boost`` say it for every clause, the plain way;
``retrieval.search.ranking`` finds the best clauses with the same scores, bit for bit, in
fewer passes over every clause.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from retrieval.index import SparseBM25
from retrieval.search.query import Query

INTENT_BOOST = 0.35  # how much a clause about the question's topic moves up
KIND_BOOST = 1.0  # how much a clause holding what the question asks for (a date, a phone) moves up
# The fields of a clause, each scored by BM25 and scaled to its best clause, then added:
# jieba words, characters and character pairs (laypeople and documents word things
# differently), and the document's title and issuer (the programme a question names).
FIELD_WEIGHTS = {"words": 1.0, "chars": 0.6, "title": 1.0}
# rank-bm25 gives a word in more than half the clauses a negative idf, floored at a share of
# the mean idf, which is negative too in a corpus of a few clauses: the ranking fields keep
# every idf at least this, so a one-document corpus still answers.
MIN_FIELD_IDF = 0.05
# Within a document, the words of its title (the programme a question names) say which
# document, not which clause: in clauses of a document whose title holds a word, that word
# counts this much less, so the clause that holds what the question asks about comes first.
TITLE_WORD_DISCOUNT = 0.6
WORDS_KEPT = 1 << 22  # postings of the words whose ``Word`` is kept (9 bytes each: 36 MB)
WORD_OVERHEAD = 40  # what a kept word's objects cost beyond its postings, in postings (~300 B)


@dataclass(frozen=True, slots=True)
class ClauseFields:
    """The ranking fields of one corpus version: ``titles`` has a row per document,
    the others a row per clause (``doc_of_clause`` maps a clause to its document)."""

    words: SparseBM25
    chars: SparseBM25
    titles: SparseBM25
    doc_of_clause: np.ndarray
    document_count: int
    _words: dict[str, Word] = field(default_factory=dict, repr=False, compare=False)
    _kept_cost: list[int] = field(default_factory=lambda: [0], repr=False, compare=False)
    _documents: list[np.ndarray] = field(default_factory=list, repr=False, compare=False)

    def documents_with_clauses(self) -> np.ndarray:
        """The documents that have clauses (a title's score counts only through them)."""
        if not self._documents:  # (not ``np.unique``: it imports ``numpy.ma``, 40-90 ms
            # of a cold ``policybot ask``)
            held = np.bincount(self.doc_of_clause, minlength=self.document_count)
            self._documents.append(np.flatnonzero(held))
        return self._documents[0]

    def scores(self, query: Query, words: np.ndarray | None = None) -> np.ndarray:
        """The fields' BM25 scores, each scaled to its best clause, weighted and added;
        ``words`` is the words field's raw BM25 when the caller already has it."""
        total = np.zeros(len(self.doc_of_clause), dtype=np.float64)
        title_scores = self.titles.scores(query.terms)[self.doc_of_clause] if query.terms else None
        fields = (
            ("words", self.word_scores(query, words)),
            ("chars", self.chars.scores(query.chars)),
            ("title", title_scores),
        )
        for name, scores in fields:
            if scores is None or not len(scores):
                continue
            best = float(scores.max())
            if best > 0:
                total += FIELD_WEIGHTS[name] * scores / best
        return total

    def word_scores(self, query: Query, raw: np.ndarray | None = None) -> np.ndarray:
        """BM25 of the words, each word discounted in the clauses of a document it runs
        through (its title, or several of its clauses): there it says which document, not
        which clause. ``raw`` (the words' BM25, left unchanged) saves scoring them again."""
        scores = self.words.scores(query.terms) if raw is None else raw.copy()
        if TITLE_WORD_DISCOUNT <= 0:
            return scores
        for term, weight in query.terms.items():
            if weight == 0:
                continue
            clauses, weights = self.words.row(term)
            if not len(clauses):
                continue
            through = self.running(term)
            scores[clauses[through]] -= TITLE_WORD_DISCOUNT * weight * weights[through]
        return scores

    def running(self, term: str) -> np.ndarray:
        """Per clause of ``term``'s postings, whether the word runs through that clause's
        document (is in its title, or in two of its clauses or more)."""
        clauses = self.words.postings(term)
        docs = self.doc_of_clause[clauses]
        running = np.bincount(docs, minlength=self.document_count) >= 2
        running[self.titles.postings(term)] = True
        return running[docs]

    def word(self, term: str) -> Word:
        """What ranking reads of ``term`` in the words field besides its postings: it depends
        on the index alone, so it is kept (up to ``WORDS_KEPT`` postings' worth), not counted
        again for every question with the word."""
        kept = self._words.get(term)
        if kept is None:
            clauses, data = self.words.row(term)
            through = self.running(term) if TITLE_WORD_DISCOUNT > 0 else np.zeros(0, bool)
            folded = (
                np.where(through, data * (1.0 - TITLE_WORD_DISCOUNT), data)
                if TITLE_WORD_DISCOUNT > 0
                else data.astype(np.float64)
            )
            through.flags.writeable = folded.flags.writeable = False  # read by every question
            kept = Word(through, folded)
            cost = len(clauses) + WORD_OVERHEAD  # postings' worth, the objects' own included
            if self._kept_cost[0] + cost > WORDS_KEPT:
                self._words.clear()  # the words of recent questions come back soon
                self._kept_cost[0] = 0
            self._words[term] = kept
            self._kept_cost[0] += cost
        return kept


@dataclass(frozen=True, slots=True)
class Word:
    """One word of the words field, as ranking reads it, per clause of its postings."""

    through: np.ndarray  # whether the word runs through the clause's document (discounted)
    folded: np.ndarray  # its BM25 weight there, discounted where it runs through (what the
    # first pass adds up; the exact sums read the field's own weights)


def topic_and_kind_boost(
    score: np.ndarray,
    query: Query,
    *,
    labels: list[str],
    intent_profile: np.ndarray,
    kind_masks: Mapping[str, np.ndarray],
) -> np.ndarray:
    """``score`` moved up for the clauses about the question's topics and those holding what
    it asks for."""
    if query.intents and labels:
        weights = np.array([query.intents.get(label, 0.0) for label in labels])
        if weights.sum() > 0:
            affinity = topic_affinity(intent_profile, weights / weights.sum())
            score = score * (1.0 + INTENT_BOOST * affinity)
    for kind in query.kinds:
        mask = kind_masks.get(kind)
        if mask is not None:
            score = score * np.where(mask, 1.0 + KIND_BOOST, 1.0)
    return score


def topic_affinity(profile: np.ndarray, topics: np.ndarray) -> np.ndarray:
    """Each row of ``profile`` (clauses' topic scores) weighed by ``topics`` and added, topic
    by topic in label order: a clause's value has the same bits whichever clauses are computed
    together (a BLAS product may round a row otherwise depending on the matrix's shape)."""
    affinity = np.zeros(len(profile), dtype=np.float64)
    for column, weight in enumerate(topics.tolist()):
        affinity += profile[:, column] * weight
    return affinity
