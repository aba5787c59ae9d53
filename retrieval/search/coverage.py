"""How much of a question a clause carries: its words, weighted by what each says, found in
the clause, in its document's title, or elsewhere in its document.

Relevance is judged on this, not on the rank score: the top clause must carry enough of the
question's information, or the honest answer is "not found" (see bot.answering).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from retrieval.index import SparseBM25
from retrieval.search.query import Query
from retrieval.tokenize import PolicyTokenizer

FUZZY_SHARE = 0.8  # a long word counts as present when more than this share of its pairs is
# A question word's information, scaled by its rarity in the corpus: a word in every clause
# keeps this share of it.
COMMON_FLOOR = 0.3
# A question word found elsewhere in the clause's document (the programme the clause belongs
# to) counts this much of what it counts in the clause itself.
DOCUMENT_CREDIT = 0.7
ASKERS_AMOUNT_WEIGHT = 0.3  # an amount in a question says what the asker has, not asks
ARTIFACT_WEIGHT = 0.5  # a cut no dictionary knows (奖给) says half as much
ARTIFACT_MAX_CHARS = 3  # longer unknown words are real compounds (助保贷款), not artifacts
SPLIT_GAP = 3  # 过桥贷款 is found in 过桥融资贷款: its two halves this few characters apart

_AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:万|亿|元|%|千万|百万)")


class Coverage:
    """Coverage and information weights of a question's words over one corpus version."""

    def __init__(
        self,
        *,
        words: SparseBM25,
        tokenizer: PolicyTokenizer,
        doc_of_clause: np.ndarray,
        title_words: Sequence[frozenset[str]],
        context_text: Sequence[str],
        document_clauses: Sequence[np.ndarray],
        document_text: Sequence[str],
    ) -> None:
        """Per clause: its document (``doc_of_clause``) and its text in that document's context;
        per document: its title's words, its clauses' positions (ascending) and its whole text."""
        self.words = words
        self.tokenizer = tokenizer
        self.doc_of_clause = doc_of_clause
        self._title_words = title_words
        self.context_text = context_text
        self.document_clauses = document_clauses
        self.document_text = document_text
        self._max_idf = math.log(max(len(context_text), 2))

    def weights(self, query: Query) -> dict[str, float]:
        """What each of the question's words says here (see ``information``)."""
        return {term: self.information(query, term) for term in query.content_terms}

    def coverage(
        self, query: Query, position: int, weight: dict[str, float] | None = None
    ) -> tuple[float, tuple[str, ...]]:
        """How much of what the question says the clause (in its document) contains, by
        information weight (``weights``, computed once a question); the parts introducing
        the asker count less."""
        weight = weight if weight is not None else self.weights(query)
        return self.coverages(query, [position], weight)[0]

    def coverages(
        self, query: Query, positions: Sequence[int], weight: dict[str, float]
    ) -> list[tuple[float, tuple[str, ...]]]:
        """``coverage`` of each clause: whether a clause holds a word is read from the word's
        postings for all clauses at once (no per-clause set of words is made), its text is
        searched only for the words it lacks, and a document is searched once a word."""
        total = sum(weight.values())
        if total <= 0:
            return [(0.0, ())] * len(positions)
        at = np.asarray(positions, dtype=np.int64)
        docs = self.doc_of_clause[at].tolist() if len(at) else []
        has_word: dict[str, list[bool]] = {}
        for term in query.content_terms:
            alternatives = query.alternatives[term]
            present = np.zeros(len(at), dtype=bool)
            for alternative in alternatives:
                clauses = self.words.postings(alternative)  # ascending
                if len(clauses):
                    slot = np.minimum(np.searchsorted(clauses, at), len(clauses) - 1)
                    present |= clauses[slot] == at
            has_word[term] = [
                here or bool(alternatives & self._title_words[doc])
                for here, doc in zip(present.tolist(), docs, strict=True)
            ]
        in_document: dict[tuple[str, int], bool] = {}
        results = []
        for row, position in enumerate(positions):
            doc = docs[row]
            text: str | None = None
            matched: list[str] = []
            for term in query.content_terms:
                if not has_word[term][row]:
                    if text is None:
                        text = self.context_text[position]
                    if not self._finds_in_text(query, term, text):
                        continue
                matched.append(term)
            elsewhere = []
            for term in query.content_terms:
                if term in matched:
                    continue
                key = (term, doc)
                if key not in in_document:
                    in_document[key] = self._finds(query, term, doc)
                if in_document[key]:
                    elsewhere.append(term)
            found = sum(weight[t] for t in matched) + DOCUMENT_CREDIT * sum(
                weight[t] for t in elsewhere
            )
            results.append((found / total, tuple(matched)))
        return results

    def _finds(self, query: Query, term: str, doc: int) -> bool:
        """Whether ``term`` (or a synonym) is in document ``doc``: among its title's or its
        clauses' words (read from the words' postings: no set of a document's words is made),
        else in its text (joined only when the words do not tell)."""
        alternatives = query.alternatives[term]
        if alternatives & self._title_words[doc]:
            return True
        clauses = self.document_clauses[doc]
        for alternative in alternatives:
            postings = self.words.postings(alternative)  # ascending, like ``clauses``
            if len(postings) and len(clauses):
                slot = np.minimum(np.searchsorted(postings, clauses), len(postings) - 1)
                if bool((postings[slot] == clauses).any()):
                    return True
        return self._finds_in_text(query, term, self.document_text[doc])

    def _finds_in_text(self, query: Query, term: str, text: str) -> bool:
        """Whether ``term`` (or a synonym) is in this text, whole, mostly or split."""
        return bool(
            any(alternative in text for alternative in query.alternatives[term])
            or _mostly_in(term, text)
            or _split_in(term, text)
            or (self.artifact(term) and all(char in text for char in term))
        )

    def information(self, query: Query, term: str) -> float:
        """How much a question's word says here: its surprisal in general Chinese, scaled by
        how rare it is in this corpus (企业 and 申请 are everywhere in policy text), less in the
        parts that introduce the asker, and less for a cut no dictionary knows (奖给)."""
        base = query.information[term] * query.emphasis.get(term, 1.0)
        if _AMOUNT.fullmatch(term):  # the asker's own figures (投资2000万): rarely in the text
            base *= ASKERS_AMOUNT_WEIGHT
        if self.artifact(term):
            return base * ARTIFACT_WEIGHT
        idf = self.words.term_idf(term)
        if idf is None:
            return base
        rarity = min(1.0, max(idf, 0.0) / self._max_idf) if self._max_idf > 0 else 1.0
        return base * (COMMON_FLOOR + (1.0 - COMMON_FLOOR) * rarity)

    def artifact(self, term: str) -> bool:
        """A short cut of the question that no dictionary knows (奖给, 报市): jieba's guess."""
        return (
            1 < len(term) <= ARTIFACT_MAX_CHARS
            and self.tokenizer.general_frequency(term) == 0
            and term not in self.tokenizer.domain_words
        )


def _split_in(term: str, text: str) -> bool:
    """A word whose two halves occur in order, a few characters apart (过桥…贷款)."""
    for cut in range(2, len(term) - 1):
        head, tail = term[:cut], term[cut:]
        start = text.find(head)
        while start >= 0:
            after = start + len(head)
            if tail in text[after : after + SPLIT_GAP + len(tail)]:
                return True
            start = text.find(head, start + 1)
    return False


def _mostly_in(term: str, text: str) -> bool:
    """A long word whose character pairs mostly occur in ``text`` (首台套 in 首台(套))."""
    if len(term) < 3:
        return False
    pairs = [term[i : i + 2] for i in range(len(term) - 1)]
    return sum(pair in text for pair in pairs) > FUZZY_SHARE * len(pairs)
