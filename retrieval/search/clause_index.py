"""One corpus version, indexed: the clauses' fields built (or loaded), and the ranked search.

A reload builds a new ``ClauseIndex`` beside the live one and swaps it in; nothing in it
changes after it is built. Scoring, coverage and place tiers are their own modules; this one
builds what they read and puts a search together from them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Generic, TypeVar

import numpy as np

from retrieval.index_parts import IndexParts
from retrieval.memory import release_freed_memory
from retrieval.places import Place
from retrieval.search.chars import compact
from retrieval.search.chunks import ClausePreparer
from retrieval.search.coverage import Coverage
from retrieval.search.prepare import Preparation
from retrieval.search.query import Query, get_question_kinds
from retrieval.search.ranking import Boosts, top
from retrieval.search.scoring import MIN_FIELD_IDF, ClauseFields
from retrieval.search.tiers import PlaceTiers
from retrieval.store import ClauseColumns, LiveCorpus, StoredClause, StoredDocument
from retrieval.tokenize import PolicyTokenizer
from retrieval.typos import TypoCorrector
from zhtext.normalize import normalize_text, normalize_texts

WEAK_WORD_FREQUENCY = 100  # a word rarer than this in jieba's counts may be a typo's piece
_EMPTY = frozenset({"∅"})  # the token of a title with no words (a field needs one)
# the parts built from prepared clauses (see ``retrieval.search.prepare``)
_PREPARED_PARTS = ("texts", "words", "chars", "kinds", "intents")


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
    tier: float = 1.0  # how near the document's place is to the place asked (1: the place itself)


class ClauseIndex:
    """One corpus version, indexed. Immutable: a reload builds a new one and swaps it in."""

    def __init__(
        self,
        corpus: LiveCorpus,
        *,
        tokenizer: PolicyTokenizer,
        topics: Sequence[str] = (),
        topic_profile: Callable[[list[str]], np.ndarray] | None = None,
        parts: IndexParts | None = None,
        build_workers: int | None = None,
    ) -> None:
        """``topics`` are the labels a question's intents may name and ``topic_profile``
        scores texts on them (a row per text, a column per label), given by the caller (a
        picklable callable lets worker processes use it too); ``parts`` loads what another
        process built for this version (None: build all); ``build_workers``: how many worker
        processes may prepare clauses (None: the cores but one; see retrieval.search.prepare)."""
        parts = parts or IndexParts(None, corpus.version)
        self._preparation: Preparation | None = None
        try:
            self._build(corpus, tokenizer, topics, topic_profile, parts, build_workers)
        finally:
            if self._preparation is not None:  # its workers let go, also after a failure
                self._preparation.close()
                self._preparation = None
            # what this process built is stored meanwhile: it can answer already
            parts.finish(wait=False)
            if parts.built:
                release_freed_memory()  # what building them took, handed back

    def _build(
        self,
        corpus: LiveCorpus,
        tokenizer: PolicyTokenizer,
        topics: Sequence[str],
        topic_profile: Callable[[list[str]], np.ndarray] | None,
        parts: IndexParts,
        build_workers: int | None,
    ) -> None:
        self.version = corpus.version
        self.documents = corpus.documents
        self.tokenizer = tokenizer
        tokenizer.add_words(_place_words(corpus.documents.values()))
        self.kinds = get_question_kinds()
        doc_keys = sorted(self.documents)
        self._doc_row = {key: row for row, key in enumerate(doc_keys)}
        source = corpus.clauses  # read from the database only when a part must be built
        title_texts = normalize_texts(
            [f"{self.documents[k].title} {self.documents[k].authority or ''}" for k in doc_keys]
        )

        self.labels = list(topics)
        preparation = self._preparation = _preparation(
            source,
            dict(zip(doc_keys, title_texts, strict=True)),
            tokenizer,
            topic_profile,
            len(self.labels),
            build_workers,
        )
        if not all(parts.ready(name) for name in _PREPARED_PARTS):
            preparation.start()  # workers start while this process makes the clauses part

        # the clauses as columns, mapped: a clause becomes an object when a hit reads it
        def whole(arrays: dict[str, np.ndarray]) -> None:
            if len(ClauseColumns(arrays, doc_keys)) != len(source):
                raise ValueError("a clauses part of another length")

        self.clauses = ClauseColumns(
            parts.arrays("clauses", lambda: ClauseColumns.arrays_of(source, doc_keys), whole),
            doc_keys,
        )
        self.doc_of_clause = self.clauses.doc
        self.opening, self.header = parts.array(
            "openings", lambda: np.stack(_openings(source, self.documents))
        ).reshape(2, len(self.clauses))
        self.opening_prior = np.where(  # an opening or header counts less (kinds may exempt)
            self.header,
            self.kinds.header_factor,
            np.where(self.opening, self.kinds.opening_factor, 1.0),
        )
        corpus.let_go_of_clauses()  # not read again: the preparation has their texts
        texts = parts.texts("texts", preparation.texts)
        self.words = parts.bm25(
            "words",
            preparation.words,
            forward=True,
            min_idf=MIN_FIELD_IDF,
        )
        self.chars = parts.bm25(
            "chars",
            preparation.chars,
            dtype=np.float32,
            min_idf=MIN_FIELD_IDF,
        )
        self.titles = parts.bm25(
            "titles",
            lambda: [tokenizer.tokens(t, normalized=True) or ["∅"] for t in title_texts],
            forward=True,
            min_idf=MIN_FIELD_IDF,
        )
        self._title_words = _PerClause(
            lambda d: self.titles.terms_of(d) - _EMPTY, len(doc_keys), keep=True
        )
        # what coverage is checked against: the clause in its document's context (made when
        # asked: a list of 100,000 sets and texts would hold gigabytes)
        self.context_text = _PerClause(
            lambda i: f"{title_texts[self.doc_of_clause[i]]} {texts[i]}", len(texts)
        )
        # each document's whole text and words: what the question's other words may find
        # (made for the documents of the hits a question has, and kept: a start joining every
        # document's text and words took a second at 100,000 clauses)
        order = np.argsort(self.doc_of_clause, kind="stable")
        bounds = np.searchsorted(self.doc_of_clause[order], np.arange(len(doc_keys) + 1))
        in_doc = [order[bounds[d] : bounds[d + 1]] for d in range(len(doc_keys))]
        self.document_text = _PerClause(
            lambda d: "".join(self.context_text[i] for i in in_doc[d].tolist()),
            len(doc_keys),
            keep=True,
        )
        kind_rows = parts.array("kinds", preparation.kinds)
        self.kind_masks = {kind: kind_rows[row] for row, kind in enumerate(self.kinds.patterns)}
        self.intent_profile = parts.array("intents", preparation.intents)
        done = preparation.done  # dropped after the build: the parts hold what it made
        self.worker_chunks = done.worker_chunks if done else 0
        self.worker_peak_mb = done.worker_peak_mb if done else 0.0
        self.corrector = TypoCorrector(
            [
                *tokenizer.domain_words,
                *(w for w in self.words.vocabulary if self.words.document_frequency(w) >= 2),
            ],
            known=self._known,
        )
        self.place_tiers = PlaceTiers([self.documents[k] for k in doc_keys], self.doc_of_clause)
        self.fields = ClauseFields(
            self.words, self.chars, self.titles, self.doc_of_clause, len(doc_keys)
        )
        self.word_coverage = Coverage(
            words=self.words,
            tokenizer=tokenizer,
            doc_of_clause=self.doc_of_clause,
            title_words=self._title_words,
            context_text=self.context_text,
            document_clauses=in_doc,
            document_text=self.document_text,
        )

    @property
    def position_of(self) -> dict[str, int]:
        """Clause id → position (paging and feedback name clauses by id)."""
        return self.clauses.position_of

    def clauses_of(self, key: str) -> list[StoredClause]:
        """The clauses of document ``key``, in reading order (none when it is not live)."""
        row = self._doc_row.get(key)
        return [] if row is None else self.clauses.of_document(row)

    def _known(self, piece: str) -> bool:
        """A run of characters that general Chinese or this corpus uses (no typo)."""
        return (
            piece in self.words.vocabulary
            or self.tokenizer.general_frequency(piece) > 0
            or all(piece[i : i + 2] in self.chars.vocabulary for i in range(len(piece) - 1))
        )

    def weak_word(self, word: str) -> bool:
        """A word rare in general Chinese that this corpus never uses (子贷 in 数子贷)."""
        return (
            word not in self.words.vocabulary
            and self.tokenizer.general_frequency(word) < WEAK_WORD_FREQUENCY
        )

    def title_words(self, position: int) -> frozenset[str]:
        """The words of the title (and issuer) of the document a clause belongs to."""
        return self._title_words[int(self.doc_of_clause[position])]

    def tiers(self, places: Sequence[Place]) -> np.ndarray | None:
        """Per clause, how near its document's place is to any of ``places`` (see
        ``PlaceTiers.of``); None when no place is named."""
        return self.place_tiers.of(places)

    def field_scores(self, query: Query, words: np.ndarray | None = None) -> np.ndarray:
        """The fields' BM25 scores, each scaled to its best clause, weighted and added
        (``words``: the words field's BM25 for ``query.terms``, when already scored)."""
        return self.fields.scores(query, words)

    def search(
        self,
        query: Query,
        *,
        k: int,
        tiers: np.ndarray | None = None,
        exclude_ids: Collection[str] = (),
    ) -> list[Hit]:
        """The ``k`` best clauses for ``query``: ``tiers`` (see ``tiers``) scale each clause
        by its place, ``exclude_ids`` are clauses already shown (paging)."""
        if not self.clauses:
            return []
        excluded = [self.position_of.get(passage_id) for passage_id in exclude_ids]
        boost = self._boosts.of(
            query, tiers, np.array(sorted(p for p in excluded if p is not None), dtype=np.int64)
        )
        ranked = top(self.fields, query, k, boost)
        positions = ranked.positions
        coverages = self.word_coverage.coverages(query, positions, self.weights(query))
        places = [1.0] * len(positions) if tiers is None else tiers[positions].tolist()
        hits = []
        for position, score, bm25, (coverage, matched), tier in zip(
            positions, ranked.scores, ranked.bm25, coverages, places, strict=True
        ):
            clause = self.clauses[position]
            hits.append(
                Hit(
                    position=position,
                    clause=clause,
                    document=self.documents[clause.doc_key],
                    score=score,
                    bm25=bm25,
                    coverage=coverage,
                    matched=matched,
                    tier=tier,
                )
            )
        return hits

    @cached_property
    def _boosts(self) -> Boosts:
        """What moves clauses after their fields are added, with its bounds (kept)."""
        return Boosts(
            labels=self.labels,
            intent_profile=self.intent_profile,
            kind_masks=self.kind_masks,
            opening_prior=self.opening_prior,
            opening_exempt=self.kinds.opening_exempt,
        )

    def weights(self, query: Query) -> dict[str, float]:
        """What each of the question's words says here (see ``Coverage.information``)."""
        return self.word_coverage.weights(query)

    def coverage(
        self, query: Query, position: int, weight: dict[str, float] | None = None
    ) -> tuple[float, tuple[str, ...]]:
        """How much of what the question says the clause (in its document) contains."""
        return self.word_coverage.coverage(query, position, weight)

    def information(self, query: Query, term: str) -> float:
        """How much a question's word says in this corpus."""
        return self.word_coverage.information(query, term)


_T = TypeVar("_T")


class _PerClause(Sequence[_T], Generic[_T]):
    """A per-clause (or per-document) value computed when read, not held for every one;
    ``keep`` keeps each value once made (a document's text and words, asked again and again)."""

    def __init__(self, make: Callable[[int], _T], length: int, *, keep: bool = False) -> None:
        self._make, self._length = make, length
        self._kept: dict[int, _T] | None = {} if keep else None

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, position: int) -> _T:  # type: ignore[override]
        if not -self._length <= position < self._length:
            raise IndexError(position)
        position %= self._length
        if self._kept is None:
            return self._make(position)
        value = self._kept.get(position)
        if value is None:
            value = self._kept[position] = self._make(position)
        return value


def _preparation(
    source: Sequence[StoredClause],
    title_of: Mapping[str, str],
    tokenizer: PolicyTokenizer,
    topic_profile: Callable[[list[str]], np.ndarray] | None,
    labels: int,
    workers: int | None,
) -> Preparation:
    """The preparation of the clauses' fields (``title_of``: each document's normalised title
    and issuer, by its key)."""

    def raw_clauses() -> tuple[list[str], list[str]]:
        # a clause's headings help it match: 特聘人才 under （二）加大对数字化人才培养和引进
        raw = [" ".join((*c.headings, c.text)) for c in source]
        return raw, [title_of[c.doc_key] for c in source]

    preparer = ClausePreparer(tokenizer.recipe(), topic_profile, labels)
    return Preparation(preparer, tokenizer, raw_clauses, count=len(source), workers=workers)


def _openings(
    clauses: Sequence[StoredClause], documents: Mapping[str, StoredDocument]
) -> tuple[np.ndarray, np.ndarray]:
    """Per clause, whether it is in its document's unnumbered opening (the header and the
    paragraphs before item 一), and whether it is the header itself: such clauses describe
    the document, and rank lower unless the question asks about the document."""
    first_numbered: dict[str, int] = {}
    for clause in clauses:
        if clause.section:
            first = first_numbered.get(clause.doc_key, clause.ordinal)
            first_numbered[clause.doc_key] = min(first, clause.ordinal)
    opening = np.array(
        [not c.section and c.ordinal < first_numbered.get(c.doc_key, 2) for c in clauses],
        dtype=bool,
    )
    # the header itself: the document's first clause when it holds the title
    header = np.array(
        [
            not c.section
            and c.ordinal == 0
            and bool(documents[c.doc_key].title)
            and compact(normalize_text(documents[c.doc_key].title))[:12]
            in compact(normalize_text(c.text))
            for c in clauses
        ],
        dtype=bool,
    )
    return opening, header


def _place_words(documents: Iterable[StoredDocument]) -> list[str]:
    """The corpus's place and issuer names, which the tokenizer must keep whole."""
    words: set[str] = set()
    for document in documents:
        for name in (document.city, document.district, document.authority):
            if name:
                words.add(name)
    return sorted(words)
