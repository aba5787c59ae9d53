"""Coverage (``retrieval.search.coverage``) against the plain way main had, to the bit.

The plain way is written out here: a clause's words read from the postings, its text searched
word by word (whole, mostly, split by a walk over every head found), a document searched
through its clauses' postings and its whole text for every question. What coverage keeps per
word and document, and its one-scan text search, must give the same floats and words.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from retrieval.bench import bench_questions
from retrieval.search import ClauseIndex, Coverage, Query, QueryBuilder, coverage
from retrieval.search.coverage import DOCUMENT_CREDIT, FUZZY_SHARE, SPLIT_GAP

QUESTIONS = [
    *bench_questions(),
    "过桥贷款怎么申请",  # split: 过桥 … 贷款
    "首台套保险补偿多少",  # mostly: 首台(套)
    "奖给报市的资金",  # cuts no dictionary knows
    "投资2000万的企业贴息",  # the asker's own figures
]


def split_in(term: str, text: str) -> bool:
    for cut in range(2, len(term) - 1):
        head, tail = term[:cut], term[cut:]
        start = text.find(head)
        while start >= 0:
            after = start + len(head)
            if tail in text[after : after + SPLIT_GAP + len(tail)]:
                return True
            start = text.find(head, start + 1)
    return False


def mostly_in(term: str, text: str) -> bool:
    if len(term) < 3:
        return False
    pairs = [term[i : i + 2] for i in range(len(term) - 1)]
    return sum(pair in text for pair in pairs) > FUZZY_SHARE * len(pairs)


def finds_in_text(alternatives: frozenset[str], term: str, artifact: bool, text: str) -> bool:
    return bool(
        any(alternative in text for alternative in alternatives)
        or mostly_in(term, text)
        or split_in(term, text)
        or (artifact and all(char in text for char in term))
    )


def plain_coverages(
    cover: Coverage, query: Query, positions: list[int], weight: dict[str, float]
) -> list[tuple[float, tuple[str, ...]]]:
    """``Coverage.coverages`` as main had it."""
    total = sum(weight.values())
    if total <= 0:
        return [(0.0, ())] * len(positions)
    results = []
    for position in positions:
        doc = int(cover.doc_of_clause[position])
        text = cover.context_text[position]
        matched, elsewhere = [], []
        for term in query.content_terms:
            alternatives = query.alternatives[term]
            in_clause = any(position in cover.words.postings(a) for a in alternatives)
            if (
                in_clause
                or alternatives & cover._title_words[doc]
                or finds_in_text(alternatives, term, cover.artifact(term), text)
            ):
                matched.append(term)
        for term in query.content_terms:
            if term in matched:
                continue
            alternatives = query.alternatives[term]
            clauses = cover.document_clauses[doc]
            if (
                alternatives & cover._title_words[doc]
                or any(np.isin(clauses, cover.words.postings(a)).any() for a in alternatives)
                or finds_in_text(alternatives, term, cover.artifact(term), cover.document_text[doc])
            ):
                elsewhere.append(term)
        found = sum(weight[t] for t in matched) + DOCUMENT_CREDIT * sum(
            weight[t] for t in elsewhere
        )
        results.append((found / total, tuple(matched)))
    return results


def test_coverages_are_the_plain_ones(
    recombined: ClauseIndex, recombined_queries: QueryBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    cover = recombined.word_coverage
    rng = random.Random(2)
    # then letting go of answers all the time
    for kept, kept_in_context in ((coverage.IN_DOCUMENT_KEPT, coverage.IN_CONTEXT_KEPT), (7, 5)):
        monkeypatch.setattr(coverage, "IN_DOCUMENT_KEPT", kept)
        monkeypatch.setattr(coverage, "IN_CONTEXT_KEPT", kept_in_context)
        cover._in_document.clear()
        cover._in_context.clear()
        for question in QUESTIONS:
            query = recombined_queries.build(question)
            weight = recombined.weights(query)
            hits = [hit.position for hit in recombined.search(query, k=60)]
            some = rng.sample(range(len(recombined.clauses)), 40)
            for positions in (hits, some, hits[:1], hits):  # the hits again: from what is kept
                expected = plain_coverages(cover, query, positions, weight)
                assert cover.coverages(query, positions, weight) == expected, question
        assert len(cover._in_document) <= max(kept, 1)
        assert 0 < len(cover._in_context) <= kept_in_context


def test_the_documents_holding_a_word_are_those_of_its_clauses(recombined: ClauseIndex) -> None:
    cover = recombined.word_coverage
    for word in [*list(recombined.words.vocabulary)[:200], "没有这个词"]:
        holding = cover._documents_holding(word)
        expected = [
            bool(np.isin(clauses, recombined.words.postings(word)).any())
            for clauses in cover.document_clauses
        ]
        assert holding.tolist() == expected, word


@pytest.mark.parametrize("seed", range(4))
def test_one_scan_finds_what_the_word_by_word_search_finds(seed: int) -> None:
    """Whole (or a synonym), mostly, split and character by character, on texts of a few
    characters (regular-expression characters among them) where each often occurs."""
    rng = random.Random(seed)
    alphabet = "过桥贷款融资.*(\n"
    for _ in range(20_000):
        term = "".join(rng.choices(alphabet, k=rng.randint(1, 7)))
        others = {"".join(rng.choices(alphabet, k=rng.randint(1, 3))) for _ in range(2)}
        alternatives = frozenset({term, *rng.sample(sorted(others), rng.randint(0, len(others)))})
        artifact = rng.random() < 0.3
        text = "".join(rng.choices(alphabet, k=rng.randint(0, 40)))
        probe = coverage._Probe(term, alternatives, artifact)
        assert probe.finds(text) == finds_in_text(alternatives, term, artifact, text)
