"""How much of a question a clause carries: its words, weighted by what each says, found in
the clause, in its document's title, or elsewhere in its document.

Relevance is judged on this, not on the rank score: the top clause must carry enough of the
question's information, or the honest answer is "not found" (see bot.answering).
"""

from __future__ import annotations

import contextlib
import math
import re
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from typing import TypeVar

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

HOLDING_KEPT_BYTES = 16 << 20  # words whose documents are kept: a byte a document each
IN_DOCUMENT_KEPT = 1 << 17  # (word, document) pairs whose answer is kept (some 20 MB)
# (word, clause) pairs whose answer is kept, where the clause's words and title lack the word:
# questions repeat their words and the clauses ranked for them, and a clause's text (made
# when asked) and its search are most of the time of a question's coverages (some 12 MB)
IN_CONTEXT_KEPT = 1 << 16
# where a word lacking from a clause's words and title is found: its text, its document, neither
_IN_TEXT, _IN_DOCUMENT, _NOWHERE = 0, 1, 2

_AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:万|亿|元|%|千万|百万)")

_K = TypeVar("_K")
_V = TypeVar("_V")


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
        # document -> its title's words, as read from ``title_words`` (which makes them once
        # and keeps them): a plain dict read a word and clause (at most one entry a document)
        self._titles: dict[int, frozenset[str]] = {}
        self.context_text = context_text
        self.document_clauses = document_clauses
        self.document_text = document_text
        self._max_idf = math.log(max(len(context_text), 2))
        # what depends on the index alone, kept across questions (bounded, see the constants)
        # word -> per document, whether one of its clauses has the word (from its postings)
        self._holding: OrderedDict[str, np.ndarray] = OrderedDict()
        # (word, its alternatives, document, whether it is a cut no dictionary knows) ->
        # whether the document has it (see ``_finds``)
        self._in_document: OrderedDict[tuple[str, frozenset[str], int, bool], bool] = OrderedDict()
        # (word, its alternatives, whether it is a cut no dictionary knows, clause) -> where it
        # is found (see ``_found_in``)
        self._in_context: OrderedDict[tuple[str, frozenset[str], bool, int], int] = OrderedDict()

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
        searched only for the words it lacks (once a word and clause, see ``_found_in``),
        and a document is searched once a word."""
        total = sum(weight.values())
        if total <= 0:
            return [(0.0, ())] * len(positions)
        at = np.asarray(positions, dtype=np.int64)
        docs = self.doc_of_clause[at].tolist() if len(at) else []
        titles = self._titles
        for doc in set(docs):
            if doc not in titles:
                titles[doc] = self._title_words[doc]
        words = []
        for term in query.content_terms:
            probe = _Probe(term, query.alternatives[term], self.artifact(term))
            present = [
                here or not probe.alternatives.isdisjoint(titles[doc])
                for here, doc in zip(self._in_clauses(probe, at).tolist(), docs, strict=True)
            ]
            words.append((term, probe, weight[term], present))
        results = []
        in_context = self._in_context
        for row, position in enumerate(positions):
            text: str | None = None
            matched: list[str] = []
            here = away = 0.0  # added to in the words' order, as sum() adds
            for term, probe, information, present in words:
                if not present[row]:
                    key = (probe.term, probe.alternatives, probe.artifact, position)
                    where = in_context.get(key)
                    if where is None:  # the clause's text is made once a clause
                        if text is None:
                            text = self.context_text[position]
                        where = self._found_in(probe, text, docs[row])
                        _keep(in_context, key, where, IN_CONTEXT_KEPT)
                    if where != _IN_TEXT:
                        if where == _IN_DOCUMENT:
                            away += information
                        continue
                matched.append(term)
                here += information
            results.append(((here + DOCUMENT_CREDIT * away) / total, tuple(matched)))
        return results

    def _found_in(self, probe: _Probe, text: str, doc: int) -> int:
        """Where ``probe``'s word, lacking from a clause's words and title, is found: in
        ``text`` (the clause in its document's context), elsewhere in its document ``doc``,
        or nowhere. The answer depends on the index alone: ``coverages`` keeps it (up to
        ``IN_CONTEXT_KEPT`` of them, keyed by word and clause)."""
        if probe.finds(text):
            return _IN_TEXT
        return _IN_DOCUMENT if self._finds(probe, doc) else _NOWHERE

    def _in_clauses(self, probe: _Probe, at: np.ndarray) -> np.ndarray:
        """Per clause at ``at``, whether it has ``probe``'s word (or a synonym) among its
        words, read from the words' postings (ascending)."""
        present = np.zeros(len(at), dtype=bool)
        needles = at.astype(np.int32) if len(self.doc_of_clause) < 2**31 else at
        for alternative in probe.alternatives:
            clauses = self.words.postings(alternative)
            if len(clauses):
                typed = needles.astype(clauses.dtype, copy=False)  # positions: exact in it
                slot = clauses.searchsorted(typed)
                np.minimum(slot, len(clauses) - 1, out=slot)
                present |= clauses[slot] == typed
        return present

    def _finds(self, probe: _Probe, doc: int) -> bool:
        """Whether ``probe``'s word (or a synonym) is in document ``doc``: among its title's
        or its clauses' words (which documents hold a word is read once from its postings),
        else in its text (joined only when the words do not tell). The answer depends on
        the index alone: kept (up to ``IN_DOCUMENT_KEPT`` of them)."""
        key = (probe.term, probe.alternatives, doc, probe.artifact)
        found = self._in_document.get(key)
        if found is None:
            found = (
                bool(probe.alternatives & self._title_words[doc])
                or any(self._documents_holding(word)[doc] for word in probe.alternatives)
                or probe.finds(self.document_text[doc])
            )
            _keep(self._in_document, key, found, IN_DOCUMENT_KEPT)
        return found

    def _documents_holding(self, word: str) -> np.ndarray:
        """Per document, whether one of its clauses has ``word`` among its words (kept)."""
        holding = self._holding.get(word)
        if holding is None:
            holding = np.zeros(len(self.document_clauses), dtype=bool)
            holding[self.doc_of_clause[self.words.postings(word)]] = True
            # a byte a document, and some 200 bytes of objects an entry
            kept = max(1, HOLDING_KEPT_BYTES // (len(holding) + 200))
            _keep(self._holding, word, holding, kept)
        return holding

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


class _Probe:
    """One question word, made ready to be looked for in texts: whole (or a synonym) or
    split (its halves a few characters apart) in one scan of a text, mostly (most of its
    character pairs) or, for a cut no dictionary knows, character by character."""

    __slots__ = ("_chars", "_pairs", "_pattern", "alternatives", "artifact", "term")

    def __init__(self, term: str, alternatives: frozenset[str], artifact: bool) -> None:
        self.term, self.alternatives, self.artifact = term, alternatives, artifact
        self._pattern = _pattern(term, alternatives)
        self._pairs = [term[i : i + 2] for i in range(len(term) - 1)] if len(term) >= 3 else []
        self._chars = term if artifact else ""

    def finds(self, text: str) -> bool:
        if self._pattern.search(text) is not None:
            return True
        pairs = self._pairs  # a long word whose pairs mostly occur (首台套 in 首台(套))
        if pairs and sum(pair in text for pair in pairs) > FUZZY_SHARE * len(pairs):
            return True
        return bool(self._chars) and all(char in text for char in self._chars)


@lru_cache(maxsize=4096)
def _pattern(term: str, alternatives: frozenset[str]) -> re.Pattern[str]:
    """Any of ``alternatives``, or any cut of ``term`` (each half two characters or more)
    with up to ``SPLIT_GAP`` characters between its halves (过桥…贷款)."""
    whole = [re.escape(alternative) for alternative in sorted(alternatives)]
    split = [
        f"{re.escape(term[:cut])}.{{0,{SPLIT_GAP}}}{re.escape(term[cut:])}"
        for cut in range(2, len(term) - 1)
    ]
    return re.compile("|".join(whole + split), re.DOTALL) if whole + split else _NOTHING


def _keep(kept: OrderedDict[_K, _V], key: _K, value: _V, limit: int) -> None:
    """``kept[key] = value``, the oldest entry let go first when ``limit`` are kept (an
    ordered dict lets go of its oldest at once; a plain one steps over every slot freed)."""
    if len(kept) >= limit:
        with contextlib.suppress(KeyError):  # another thread emptied it meanwhile
            kept.popitem(last=False)
    kept[key] = value


_NOTHING = re.compile(r"(?!)")  # matches no text
