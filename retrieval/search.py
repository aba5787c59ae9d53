"""Ranked clause retrieval over one corpus version: BM25, headings, synonyms, places, intents."""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from intents import OTHER, IntentClassifier
from retrieval.index import SparseBM25, top_k
from retrieval.normalize import normalize_text
from retrieval.store import LiveCorpus, StoredClause, StoredDocument
from retrieval.tokenize import DATA_DIR, PolicyTokenizer

SYNONYM_WEIGHT = 0.5  # a synonym counts half as much as the word the question used
INTENT_BOOST = 0.35  # how much a clause about the question's topic moves up


@dataclass(frozen=True, slots=True)
class Query:
    """A question made ready for retrieval: weighted terms, their informativeness, the filter."""

    terms: dict[str, float]  # term -> weight (1 for the question's words, less for synonyms)
    content_terms: list[str]  # the question's own informative words, in order
    information: dict[str, float]  # content term -> how much it says (general-language surprisal)
    alternatives: dict[str, frozenset[str]]  # content term -> itself and its synonyms
    parts: dict[str, frozenset[str]]  # content term -> its search-mode sub-words (融资, 租赁)
    intents: dict[str, float]  # label -> score (no "other")


@dataclass(frozen=True, slots=True)
class Hit:
    """A clause that matched, with what decided its rank."""

    position: int
    clause: StoredClause
    document: StoredDocument
    score: float
    bm25: float
    coverage: float  # share of the question's information the clause contains (0..1)
    matched: tuple[str, ...]  # the question's words (or their synonyms) found in the clause


class Synonyms:
    """Groups of interchangeable words, from ``synonyms.toml``."""

    def __init__(self, path: Path = DATA_DIR / "synonyms.toml") -> None:
        groups = tomllib.loads(path.read_text(encoding="utf-8"))["groups"]
        self._of: dict[str, frozenset[str]] = {}
        for group in groups:
            words = frozenset(normalize_text(word) for word in group)
            for word in words:
                self._of[word] = self._of.get(word, frozenset()) | words

    def of(self, term: str) -> frozenset[str]:
        return self._of.get(term, frozenset({term}))


@lru_cache(maxsize=1)
def get_synonyms() -> Synonyms:
    return Synonyms()


class ClauseIndex:
    """One corpus version, indexed. Immutable: a reload builds a new one and swaps it in."""

    def __init__(
        self,
        corpus: LiveCorpus,
        *,
        tokenizer: PolicyTokenizer,
        classifier: IntentClassifier,
    ) -> None:
        self.version = corpus.version
        self.documents = corpus.documents
        self.clauses: list[StoredClause] = list(corpus.clauses)
        self.tokenizer = tokenizer
        tokenizer.add_words(_place_words(corpus.documents.values()))
        # a clause's headings help it match: 特聘人才 under （二）加大对数字化人才培养和引进
        self.tokens: list[list[str]] = [
            tokenizer.tokens(" ".join((*clause.headings, clause.text))) for clause in self.clauses
        ]
        self.token_sets: list[frozenset[str]] = [frozenset(tokens) for tokens in self.tokens]
        self.bm25 = SparseBM25(self.tokens or [["∅"]])
        self.labels = [label for label in classifier.order if label != OTHER]
        profile = np.zeros((len(self.clauses), len(self.labels)), dtype=np.float64)
        for row, clause in enumerate(self.clauses):
            scores = dict(classifier.classify(" ".join((*clause.headings, clause.text))).scores)
            for column, label in enumerate(self.labels):
                profile[row, column] = scores.get(label, 0.0)
        self.intent_profile = profile
        self.position_of = {clause.id: i for i, clause in enumerate(self.clauses)}
        doc_of = [self.documents[clause.doc_key] for clause in self.clauses]
        self.clause_city = np.array([doc.city or "" for doc in doc_of], dtype=object)
        self.clause_district = np.array([doc.district or "" for doc in doc_of], dtype=object)

    def place_mask(self, places: Sequence[tuple[str, str | None]]) -> np.ndarray | None:
        """Clauses that apply to any of the (city, district) places; None means everywhere.

        A city's own documents apply to all its districts and towns; a district's documents
        apply to that district only.
        """
        if not places:
            return None
        mask = np.zeros(len(self.clauses), dtype=bool)
        for city, district in places:
            in_city = self.clause_city == city
            if district:
                mask |= in_city & (
                    (self.clause_district == "") | (self.clause_district == district)
                )
            else:
                mask |= in_city
        return mask

    def search(
        self,
        query: Query,
        *,
        k: int,
        mask: np.ndarray | None = None,
        exclude_ids: Collection[str] = (),
    ) -> list[Hit]:
        if not self.clauses:
            return []
        bm25 = self.bm25.scores(query.terms)
        score = bm25
        if query.intents and self.labels:
            weights = np.array([query.intents.get(label, 0.0) for label in self.labels])
            if weights.sum() > 0:
                affinity = self.intent_profile @ (weights / weights.sum())
                score = bm25 * (1.0 + INTENT_BOOST * affinity)
        if exclude_ids:
            score = score.copy()
            for passage_id in exclude_ids:
                position = self.position_of.get(passage_id)
                if position is not None:
                    score[position] = 0.0
        hits = []
        for position in top_k(score, k, mask=mask):
            coverage, matched = self.coverage(query, position)
            hits.append(
                Hit(
                    position=position,
                    clause=self.clauses[position],
                    document=self.documents[self.clauses[position].doc_key],
                    score=float(score[position]),
                    bm25=float(bm25[position]),
                    coverage=coverage,
                    matched=matched,
                )
            )
        return hits

    def coverage(self, query: Query, position: int) -> tuple[float, tuple[str, ...]]:
        """How much of what the question says the clause contains, by information weight."""
        tokens = self.token_sets[position]
        total = sum(query.information.values())
        if total <= 0:
            return 0.0, ()
        matched = tuple(
            term
            for term in query.content_terms
            if query.alternatives[term] & tokens
            or (query.parts[term] and query.parts[term] <= tokens)
        )
        return sum(query.information[term] for term in matched) / total, matched


class QuestionForms:
    """Removes what only makes a sentence a question (怎么回事, 能不能, 几个)."""

    def __init__(self, path: Path = DATA_DIR / "question_forms.toml") -> None:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        phrases = sorted((normalize_text(p) for p in raw["phrases"]), key=len, reverse=True)
        alternatives = [re.escape(p) for p in phrases] + list(raw["patterns"])
        self._pattern = re.compile("|".join(f"(?:{a})" for a in alternatives))

    def strip(self, normalized: str) -> str:
        return self._pattern.sub(" ", normalized)


class QueryBuilder:
    """Turns a question into a ``Query``: tokens, synonyms, information weights."""

    def __init__(self, tokenizer: PolicyTokenizer, synonyms: Synonyms) -> None:
        self.tokenizer = tokenizer
        self.synonyms = synonyms
        self.question_forms = QuestionForms()

    def information(self, term: str) -> float:
        """Surprisal of a word in general Chinese: 公积金 says more than 企业; unknown says most."""
        frequency = self.tokenizer.general_frequency(term)
        return math.log(self.tokenizer.general_total / (frequency + 1.0))

    def build(
        self,
        text: str,
        *,
        ignore: Iterable[str] = (),
        intents: dict[str, float] | None = None,
    ) -> Query:
        ignored = sorted({normalize_text(word) for word in ignore}, key=len, reverse=True)
        text = self.question_forms.strip(normalize_text(text))
        for place in ignored:  # 南头镇 goes whole, not 南头 leaving a stray 镇
            text = text.replace(place, " ")
        content: list[str] = []
        for token in self.tokenizer.tokens(text, normalized=True):
            token = _without_place(token, ignored)
            if token and token not in content and token not in self.tokenizer.stopwords:
                content.append(token)
        terms: dict[str, float] = {}
        for token in content:
            terms[token] = terms.get(token, 0.0) + 1.0
            for synonym in self.synonyms.of(token):
                if synonym not in content:
                    terms[synonym] = max(terms.get(synonym, 0.0), SYNONYM_WEIGHT)
        # jieba's search mode gives 融资, 租赁 and 融资租赁: all are searched, but what the
        # question says is counted once, by its longest words
        longest = [t for t in content if not any(t != o and t in o for o in content)]
        return Query(
            terms=terms,
            content_terms=longest,
            information={token: self.information(token) for token in longest},
            alternatives={token: self.synonyms.of(token) for token in longest},
            parts={t: frozenset(o for o in content if o != t and o in t) for t in longest},
            intents={label: score for label, score in (intents or {}).items() if label != OTHER},
        )


def _without_place(token: str, places: list[str]) -> str:
    """广州市政府 → 政府 when 广州市 is a place of the question; a bare place name → ''."""
    for place in places:
        if token == place or (len(token) > 1 and token in place):
            return ""
        if token.startswith(place):
            return token[len(place) :]
    return token


def _place_words(documents: Iterable[StoredDocument]) -> list[str]:
    words: set[str] = set()
    for document in documents:
        for name in (document.city, document.district, document.authority):
            if name:
                words.add(name)
    return sorted(words)
