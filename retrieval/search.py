"""Ranked clause retrieval over one corpus version: BM25, headings, synonyms, places, intents."""

from __future__ import annotations

import contextlib
import math
import re
import tomllib
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np

from retrieval.index import SparseBM25, TokenIds, top_k
from retrieval.index_parts import IndexParts
from retrieval.places import Place
from retrieval.store import LiveCorpus, StoredClause, StoredDocument
from retrieval.tokenize import DATA_DIR, PolicyTokenizer
from retrieval.typos import TypoCorrector
from zhtext.normalize import normalize_text

SYNONYM_WEIGHT = 0.5  # a synonym counts half as much as the word the question used
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
FUZZY_SHARE = 0.8  # a long word counts as present when more than this share of its pairs is
# Within a document, the words of its title (the programme a question names) say which
# document, not which clause: in clauses of a document whose title holds a word, that word
# counts this much less, so the clause that holds what the question asks about comes first.
TITLE_WORD_DISCOUNT = 0.6
# A question word's information, scaled by its rarity in the corpus: a word in every clause
# keeps this share of it.
COMMON_FLOOR = 0.3
# A question word found elsewhere in the clause's document (the programme the clause belongs
# to) counts this much of what it counts in the clause itself.
DOCUMENT_CREDIT = 0.7
WEAK_WORD_FREQUENCY = 100  # a word rarer than this in jieba's counts may be a typo's piece
ASKERS_AMOUNT_WEIGHT = 0.3  # an amount in a question says what the asker has, not asks
ARTIFACT_WEIGHT = 0.5  # a cut no dictionary knows (奖给) says half as much
ARTIFACT_MAX_CHARS = 3  # longer unknown words are real compounds (助保贷款), not artifacts
SPLIT_GAP = 3  # 过桥贷款 is found in 过桥融资贷款: its two halves this few characters apart


@dataclass(frozen=True, slots=True)
class Query:
    """A question made ready for retrieval: weighted terms, their informativeness, the filter."""

    terms: dict[str, float]  # term -> weight (1 for the question's words, less for synonyms)
    content_terms: list[str]  # the question's own informative words, in order
    information: dict[str, float]  # content term -> how much it says (general-language surprisal)
    alternatives: dict[str, frozenset[str]]  # content term -> itself and its synonyms
    parts: dict[str, frozenset[str]]  # content term -> its search-mode sub-words (融资, 租赁)
    intents: dict[str, float]  # label -> score (no "other")
    chars: dict[str, float] = field(default_factory=dict)  # characters and character pairs
    kinds: tuple[str, ...] = ()  # what it asks for: deadline, contact, amount, condition …
    emphasis: dict[str, float] = field(default_factory=dict)  # content term -> 1, or less in
    # the parts that introduce the asker (我是东莞做模具的小老板)


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


class QuestionKinds:
    """What a question asks for (a deadline, a contact, an amount …): question_kinds.toml."""

    def __init__(self, path: Path = DATA_DIR / "question_kinds.toml") -> None:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        context = raw.pop("context", {})
        opening = raw.pop("opening", {})
        self.opening_factor = float(opening.get("factor", 1.0))
        self.header_factor = float(opening.get("header_factor", self.opening_factor))
        self.opening_exempt = frozenset(opening.get("exempt", ()))
        self.cues = {kind: tuple(entry["cues"]) for kind, entry in raw.items()}
        self.patterns = {kind: re.compile(entry["clause"]) for kind, entry in raw.items()}
        self.openers = tuple(normalize_text(o) for o in context.get("openers", ()))
        self.context_weight = float(context.get("weight", 0.5))

    def of(self, normalized: str) -> tuple[str, ...]:
        return tuple(kind for kind, cues in self.cues.items() if any(c in normalized for c in cues))

    def context_parts(self, normalized: str) -> list[str]:
        """The question's parts that introduce the asker rather than ask."""
        parts = re.split(r"[，,。.？?！!；;：:]", normalized)
        return [p for p in parts if p.strip().startswith(self.openers)]


@lru_cache(maxsize=1)
def get_question_kinds() -> QuestionKinds:
    return QuestionKinds()


def char_terms(normalized: str) -> list[str]:
    """Characters and adjacent character pairs of the Chinese and alphanumeric runs."""
    terms: list[str] = []
    for run in _RUN.findall(normalized):
        terms.extend(run)
        terms.extend(run[i : i + 2] for i in range(len(run) - 1))
    return terms


def char_term_ids(texts: Sequence[str]) -> TokenIds:
    """``char_terms`` of every normalised text as term ids, without a Python step per term:
    the same terms, in the same order, with the same first-seen vocabulary as encoding
    ``char_terms(text)`` text by text (so the field's scores are bit for bit the same)."""
    joined = _TEXT_SEPARATOR.join(texts)  # normalised text holds no control characters
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    del joined
    in_run = (
        ((codes >= 0x3400) & (codes <= 0x9FFF))
        | ((codes >= ord("a")) & (codes <= ord("z")))
        | ((codes >= ord("0")) & (codes <= ord("9")))
    )  # _RUN's class
    text_of = np.cumsum(codes == ord(_TEXT_SEPARATOR))  # which text each character is in
    flags = np.concatenate(([False], in_run, [False])).view(np.int8)
    edges = np.diff(flags)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    lengths = ends - starts
    # each run gives its characters, then its adjacent pairs: 2·L − 1 terms
    sizes = 2 * lengths - 1
    base = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    keys = np.empty(int(sizes.sum()), dtype=np.int64)
    run_of = np.repeat(np.arange(len(starts)), lengths)
    at = np.flatnonzero(in_run)
    inside = at - starts[run_of]
    keys[base[run_of] + inside] = codes[at]
    pair = inside < lengths[run_of] - 1
    pair_at = at[pair]
    keys[base[run_of[pair]] + lengths[run_of[pair]] + inside[pair]] = (
        _PAIR_FLAG | (codes[pair_at] << 21) | codes[pair_at + 1]
    )
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    if len(starts):
        per_text = np.bincount(text_of[starts], weights=sizes, minlength=len(texts))
        np.cumsum(per_text.astype(np.int64), out=offsets[1:])
    ids, vocabulary = _first_seen_ids(keys)
    terms = [
        chr(key) if key < _PAIR_FLAG else chr((key >> 21) & _CODE_MASK) + chr(key & _CODE_MASK)
        for key in vocabulary.tolist()
    ]
    return TokenIds.of_arrays(ids, offsets, terms)


def _first_seen_ids(keys: np.ndarray, chunk: int = 1 << 20) -> tuple[np.ndarray, np.ndarray]:
    """Each key's id in the order keys are first seen, and the keys in id order. A chunk's
    new keys are sorted, not the whole array: most of a corpus's terms are repeats."""
    distinct = np.unique(keys)
    dense = np.searchsorted(distinct, keys).astype(np.int32)
    id_of = np.full(len(distinct), -1, dtype=np.int32)
    order: list[np.ndarray] = []
    assigned = 0
    for start in range(0, len(dense), chunk):
        part = dense[start : start + chunk]
        new = part[id_of[part] < 0]
        if len(new):
            fresh, first = np.unique(new, return_index=True)
            fresh = fresh[np.argsort(first)]
            id_of[fresh] = np.arange(assigned, assigned + len(fresh), dtype=np.int32)
            assigned += len(fresh)
            order.append(fresh)
    seen = np.concatenate(order) if order else np.zeros(0, dtype=np.int64)
    return id_of[dense], distinct[seen]


_TEXT_SEPARATOR = "\x00"
_PAIR_FLAG = 1 << 42
_CODE_MASK = (1 << 21) - 1


_AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:万|亿|元|%|千万|百万)")
_RUN = re.compile(r"[\u3400-\u9fffa-z0-9]+")


# Place tiers: how near a document's place is to the place a question names.
TIER_SAME = 1.0  # the place itself (南山区 for 南山)
TIER_CITY = 0.9  # its city (深圳 for 南山)
TIER_PROVINCE = 0.8  # its province (广东)
TIER_NATIONAL = 0.7  # national documents apply everywhere
TIER_UNKNOWN = 0.55  # a document whose place could not be read: ranked after those that match
TIER_CACHE_SIZE = 256  # place combinations whose tiers are kept (a few hundred kilobytes each)


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
    ) -> None:
        """``topics`` are the labels a question's intents may name and ``topic_profile``
        scores texts on them (a row per text, a column per label), given by the caller;
        ``parts`` loads what another process built for this version (None: build all)."""
        parts = parts or IndexParts(None, corpus.version)
        self.version = corpus.version
        self.documents = corpus.documents
        self.clauses: list[StoredClause] = list(corpus.clauses)
        self.tokenizer = tokenizer
        tokenizer.add_words(_place_words(corpus.documents.values()))
        self.kinds = get_question_kinds()
        doc_keys = sorted(self.documents)
        doc_row = {key: i for i, key in enumerate(doc_keys)}
        self.doc_of_clause = np.array(
            [doc_row[clause.doc_key] for clause in self.clauses], dtype=np.int32
        )
        # a clause's headings help it match: 特聘人才 under （二）加大对数字化人才培养和引进
        texts = parts.texts(
            "texts", lambda: [normalize_text(" ".join((*c.headings, c.text))) for c in self.clauses]
        )
        self.words = parts.bm25(
            "words",
            lambda: tokenizer.encode(texts, TokenIds()),
            forward=True,
            min_idf=MIN_FIELD_IDF,
        )
        self._max_idf = math.log(max(len(self.clauses), 2))
        self.chars = parts.bm25(
            "chars",
            lambda: char_term_ids(texts),
            dtype=np.float32,
            min_idf=MIN_FIELD_IDF,
        )
        title_texts = [
            normalize_text(f"{self.documents[k].title} {self.documents[k].authority or ''}")
            for k in doc_keys
        ]
        title_tokens = [tokenizer.tokens(t, normalized=True) for t in title_texts]
        self.titles = SparseBM25(
            [t or ["∅"] for t in title_tokens] or [["∅"]], min_idf=MIN_FIELD_IDF
        )
        self._title_words = [frozenset(tokens) for tokens in title_tokens]
        # what coverage is checked against: the clause in its document's context (made when
        # asked: a list of 100,000 sets and texts would hold gigabytes)
        self.context_text = _PerClause(
            lambda i: f"{title_texts[self.doc_of_clause[i]]} {texts[i]}", len(texts)
        )
        # each document's whole text and words: what the question's other words may find
        doc_texts: list[list[str]] = [[] for _ in doc_keys]
        for row, text in enumerate(self.context_text):
            doc_texts[self.doc_of_clause[row]].append(text)
        self.document_text = ["".join(parts) for parts in doc_texts]
        self.document_tokens = [
            terms | self._title_words[doc]
            for doc, terms in enumerate(
                self.words.terms_by_group(self.doc_of_clause, len(doc_keys))
            )
        ]
        # a document's unnumbered opening: its header and the paragraphs before item 一
        first_numbered: dict[str, int] = {}
        for clause in self.clauses:
            if clause.section:
                first = first_numbered.get(clause.doc_key, clause.ordinal)
                first_numbered[clause.doc_key] = min(first, clause.ordinal)
        self.opening = np.array(
            [not c.section and c.ordinal < first_numbered.get(c.doc_key, 2) for c in self.clauses],
            dtype=bool,
        )
        # the header itself: the document's first clause when it holds the title
        self.header = np.array(
            [
                not c.section
                and c.ordinal == 0
                and bool(self.documents[c.doc_key].title)
                and _compact(normalize_text(self.documents[c.doc_key].title))[:12]
                in _compact(normalize_text(c.text))
                for c in self.clauses
            ],
            dtype=bool,
        )
        # what an opening or a header counts, unless the question is about the document
        self.opening_prior = np.where(
            self.header,
            self.kinds.header_factor,
            np.where(self.opening, self.kinds.opening_factor, 1.0),
        )
        kinds = list(self.kinds.patterns.items())
        kind_rows = parts.array(
            "kinds",
            lambda: np.array(
                [[bool(pattern.search(t)) for t in texts] for _, pattern in kinds], dtype=bool
            ).reshape(len(kinds), len(texts)),
        )
        self.kind_masks = {kind: kind_rows[row] for row, (kind, _) in enumerate(kinds)}
        self.labels = list(topics)

        def intent_profile() -> np.ndarray:
            if topic_profile is None:
                return np.zeros((len(texts), len(self.labels)))
            # a clause of a 5G document is about 5G even when it only says 申报时间
            in_document = [
                f"{title_texts[doc]} {text}"
                for doc, text in zip(self.doc_of_clause, texts, strict=True)
            ]
            return topic_profile(in_document).reshape(len(texts), len(self.labels))

        self.intent_profile = parts.array("intents", intent_profile)
        self.position_of = {clause.id: i for i, clause in enumerate(self.clauses)}
        self.corrector = TypoCorrector(
            [
                *tokenizer.domain_words,
                *(w for w in self.words.vocabulary if self.words.document_frequency(w) >= 2),
            ],
            known=self._known,
        )
        doc_of = [self.documents[clause.doc_key] for clause in self.clauses]
        self.clause_level = _Codes([doc.level or "" for doc in doc_of])
        self.clause_province = _Codes([doc.province or "" for doc in doc_of])
        self.clause_city = _Codes([doc.city or "" for doc in doc_of])
        self.clause_district = _Codes([doc.district or "" for doc in doc_of])
        self._tier_cache: dict[tuple[Place, ...], np.ndarray | None] = {}

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
        """Per clause, how near its document's place is to any of ``places`` (0: another
        place's document); None when no place is named (every document applies).

        A question about 南山 is answered from 南山's documents, then 深圳's, 广东's and
        national ones; a document whose place is unknown comes after those.
        """
        if not places:
            return None
        key = tuple(places)
        if key in self._tier_cache:  # asked for twice a question, and places recur
            return self._tier_cache[key]
        tier = np.zeros(len(self.clauses), dtype=np.float64)
        national = self.clause_level == "national"
        unknown = self.clause_level == ""
        for place in places:
            in_province = self.clause_province == (place.province or "")
            province_level = (self.clause_level == "province") & in_province
            in_city = self.clause_city == (place.city or "")
            if place.kind == "province":
                same = in_province
                city_level = np.zeros_like(same)
            elif place.kind == "city":
                same = in_city  # a city's question is answered by its districts' documents too
                city_level = np.zeros_like(same)
            else:
                same = in_city & (self.clause_district == place.display)
                city_level = in_city & (self.clause_level == "city")
            tier = np.maximum(tier, np.where(same, TIER_SAME, 0.0))
            tier = np.maximum(tier, np.where(city_level, TIER_CITY, 0.0))
            if place.kind != "province":
                tier = np.maximum(tier, np.where(province_level, TIER_PROVINCE, 0.0))
        tier = np.maximum(tier, np.where(national, TIER_NATIONAL, 0.0))
        tier = np.maximum(tier, np.where(unknown, TIER_UNKNOWN, 0.0))
        tier.flags.writeable = False  # shared by every question naming these places
        if len(self._tier_cache) >= TIER_CACHE_SIZE:
            with contextlib.suppress(RuntimeError, KeyError, StopIteration):  # a racing thread
                self._tier_cache.pop(next(iter(self._tier_cache)))
        self._tier_cache[key] = tier
        return tier

    def field_scores(self, query: Query) -> np.ndarray:
        """The fields' BM25 scores, each scaled to its best clause, weighted and added."""
        total = np.zeros(len(self.clauses), dtype=np.float64)
        title_scores = self.titles.scores(query.terms)[self.doc_of_clause] if query.terms else None
        fields = (
            ("words", self._word_scores(query)),
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

    def _word_scores(self, query: Query) -> np.ndarray:
        """BM25 of the words, each word discounted in the clauses of a document it runs
        through (its title, or several of its clauses): there it says which document, not
        which clause."""
        scores = self.words.scores(query.terms)
        if TITLE_WORD_DISCOUNT <= 0:
            return scores
        for term, weight in query.terms.items():
            if weight == 0:
                continue
            clauses, weights = self.words.row(term)
            if not len(clauses):
                continue
            docs = self.doc_of_clause[clauses]
            counts = np.bincount(docs, minlength=len(self.document_text))
            running = counts >= 2
            running[self.titles.postings(term)] = True
            through = running[docs]
            scores[clauses[through]] -= TITLE_WORD_DISCOUNT * weight * weights[through]
        return scores

    def search(
        self,
        query: Query,
        *,
        k: int,
        tiers: np.ndarray | None = None,
        exclude_ids: Collection[str] = (),
    ) -> list[Hit]:
        if not self.clauses:
            return []
        bm25 = self.words.scores(query.terms)
        score = self.field_scores(query)
        if query.intents and self.labels:
            weights = np.array([query.intents.get(label, 0.0) for label in self.labels])
            if weights.sum() > 0:
                affinity = self.intent_profile @ (weights / weights.sum())
                score = score * (1.0 + INTENT_BOOST * affinity)
        for kind in query.kinds:
            mask = self.kind_masks.get(kind)
            if mask is not None:
                score = score * np.where(mask, 1.0 + KIND_BOOST, 1.0)
        if not self.kinds.opening_exempt & set(query.kinds):
            score = score * self.opening_prior
        if tiers is not None:
            score = score * tiers
        if exclude_ids:
            score = score.copy()
            for passage_id in exclude_ids:
                position = self.position_of.get(passage_id)
                if position is not None:
                    score[position] = 0.0
        positions = top_k(score, k)
        coverages = self._coverages(query, positions, self.weights(query))
        hits = []
        for position, (coverage, matched) in zip(positions, coverages, strict=True):
            hits.append(
                Hit(
                    position=position,
                    clause=self.clauses[position],
                    document=self.documents[self.clauses[position].doc_key],
                    score=float(score[position]),
                    bm25=float(bm25[position]),
                    coverage=coverage,
                    matched=matched,
                    tier=1.0 if tiers is None else float(tiers[position]),
                )
            )
        return hits

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
        return self._coverages(query, [position], weight)[0]

    def _coverages(
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
                    in_document[key] = self._finds(
                        query, term, self.document_tokens[doc], self.document_text[doc]
                    )
                if in_document[key]:
                    elsewhere.append(term)
            found = sum(weight[t] for t in matched) + DOCUMENT_CREDIT * sum(
                weight[t] for t in elsewhere
            )
            results.append((found / total, tuple(matched)))
        return results

    def _finds(self, query: Query, term: str, tokens: frozenset[str], text: str) -> bool:
        """Whether ``term`` (or a synonym) is in these words or this compact text."""
        return bool(query.alternatives[term] & tokens) or self._finds_in_text(query, term, text)

    def _finds_in_text(self, query: Query, term: str, text: str) -> bool:
        """Whether ``term`` (or a synonym) is in this text, whole, mostly or split."""
        return bool(
            any(alternative in text for alternative in query.alternatives[term])
            or _mostly_in(term, text)
            or _split_in(term, text)
            or (self._artifact(term) and all(char in text for char in term))
        )

    def information(self, query: Query, term: str) -> float:
        """How much a question's word says here: its surprisal in general Chinese, scaled by
        how rare it is in this corpus (企业 and 申请 are everywhere in policy text), less in the
        parts that introduce the asker, and less for a cut no dictionary knows (奖给)."""
        base = query.information[term] * query.emphasis.get(term, 1.0)
        if _AMOUNT.fullmatch(term):  # the asker's own figures (投资2000万): rarely in the text
            base *= ASKERS_AMOUNT_WEIGHT
        if self._artifact(term):
            return base * ARTIFACT_WEIGHT
        idf = self.words.term_idf(term)
        if idf is None:
            return base
        rarity = min(1.0, max(idf, 0.0) / self._max_idf) if self._max_idf > 0 else 1.0
        return base * (COMMON_FLOOR + (1.0 - COMMON_FLOOR) * rarity)

    def _artifact(self, term: str) -> bool:
        """A short cut of the question that no dictionary knows (奖给, 报市): jieba's guess."""
        return (
            1 < len(term) <= ARTIFACT_MAX_CHARS
            and self.tokenizer.general_frequency(term) == 0
            and term not in self.tokenizer.domain_words
        )


_T = TypeVar("_T")


class _Codes:
    """Per-clause names (a document's city, level) as integer codes: comparing with a name
    compares integers, 30× faster than an array of Python strings."""

    def __init__(self, names: Sequence[str]) -> None:
        self._code: dict[str, int] = {}
        self.codes = np.array(
            [self._code.setdefault(name, len(self._code)) for name in names], dtype=np.int32
        )

    def __eq__(self, name: object) -> np.ndarray:  # type: ignore[override]
        return self.codes == self._code.get(str(name), -1)

    def __len__(self) -> int:
        return len(self.codes)

    __hash__ = None  # type: ignore[assignment]


class _PerClause(Sequence[_T], Generic[_T]):
    """A per-clause value computed when read, not held for every clause."""

    def __init__(self, make: Callable[[int], _T], length: int) -> None:
        self._make, self._length = make, length

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, position: int) -> _T:  # type: ignore[override]
        if not -self._length <= position < self._length:
            raise IndexError(position)
        return self._make(position % self._length)


def _compact(text: str) -> str:
    """Text with punctuation and spaces removed: 首台(套) reads as 首台套."""
    return "".join(_RUN.findall(text))


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
        self.kinds = get_question_kinds()

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
        """The query of ``text``; ``intents`` are the topics it is about (label -> score)."""
        ignored = sorted({normalize_text(word) for word in ignore}, key=len, reverse=True)
        normalized = normalize_text(text)
        kinds = self.kinds.of(normalized)
        context = " ".join(self.kinds.context_parts(normalized))
        text = self.question_forms.strip(normalized)
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
        asking = normalized.replace(context, " ") if context else normalized
        emphasis = {
            t: self.kinds.context_weight for t in longest if t in context and t not in asking
        }
        chars: dict[str, float] = {}
        for term in char_terms(text):
            chars[term] = chars.get(term, 0.0) + 1.0
        return Query(
            terms=terms,
            content_terms=longest,
            information={token: self.information(token) for token in longest},
            alternatives={token: self.synonyms.of(token) for token in longest},
            parts={t: frozenset(o for o in content if o != t and o in t) for t in longest},
            intents=dict(intents or {}),
            chars=chars,
            kinds=kinds,
            emphasis=emphasis,
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
