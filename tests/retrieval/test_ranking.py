"""The fast ranking (``retrieval.search.ranking``) against the plain way, to the bit.

The plain way is written out here: every field over every clause, then every boost over every
clause (the topic affinity added topic by topic, ``scoring.topic_affinity``), then ``top_k``.
The recombined corpus (conftest.py: clauses repeat, scores tie) with topics, question kinds and
places goes through both; hits, scores and raw BM25 must be the same floats, and what ranking
keeps per word (the discount flags, the folded weights) must be what counting them afresh
gives. Two clauses made by hand check the error margin of the first pass.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from retrieval import postings
from retrieval.bench import bench_questions
from retrieval.index import SparseBM25, top_k
from retrieval.places import load_gazetteer
from retrieval.search import (
    TITLE_WORD_DISCOUNT,
    ClauseIndex,
    Query,
    QueryBuilder,
    ranking,
    scoring,
)
from retrieval.search.scoring import ClauseFields, topic_and_kind_boost

QUESTIONS = [
    *bench_questions(),
    "企业贷款贴息比例是多少？申报截止时间？",
    "南山区人才补贴联系电话",
    "广东省中小企业融资有什么政策",
    "首台套保险补偿",
    "没有这样的词语吧",
]


@pytest.fixture
def index(recombined: ClauseIndex) -> ClauseIndex:
    return recombined


@pytest.fixture
def queries(recombined_queries: QueryBuilder) -> QueryBuilder:
    return recombined_queries


def plain(
    index: ClauseIndex,
    query: Query,
    k: int,
    tiers: np.ndarray | None = None,
    exclude_ids: Collection[str] = (),
) -> list[tuple[int, float, float]]:
    """``ClauseIndex.search``'s ranking the plain way: every array over every clause."""
    bm25 = index.words.scores(query.terms)
    score = index.field_scores(query, bm25)
    score = topic_and_kind_boost(
        score,
        query,
        labels=index.labels,
        intent_profile=index.intent_profile,
        kind_masks=index.kind_masks,
    )
    if not index.kinds.opening_exempt & set(query.kinds):
        score = score * index.opening_prior
    if tiers is not None:
        score = score * tiers
    score = score.copy()
    for passage_id in exclude_ids:
        position = index.position_of.get(passage_id)
        if position is not None:
            score[position] = 0.0
    return [(p, float(score[p]), float(bm25[p])) for p in top_k(score, k)]


def searched(
    index: ClauseIndex,
    query: Query,
    k: int,
    tiers: np.ndarray | None = None,
    exclude_ids: Collection[str] = (),
) -> list[tuple[int, float, float]]:
    hits = index.search(query, k=k, tiers=tiers, exclude_ids=exclude_ids)
    return [(hit.position, hit.score, hit.bm25) for hit in hits]


def test_the_corpus_ties_and_has_topics_kinds_and_places(index: ClauseIndex) -> None:
    """What the comparisons below rely on to mean something."""
    assert len(index.clauses) == 3000
    assert index.intent_profile.any() and any(mask.any() for mask in index.kind_masks.values())
    assert len(set(index.clauses.doc_keys)) == 30
    texts = [index.context_text[i] for i in range(len(index.clauses))]
    assert len(set(texts)) < len(texts)  # some clauses repeat: their scores tie


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
@pytest.mark.parametrize("k", [1, 5, 60])
def test_search_ranks_and_scores_as_the_plain_way(
    index: ClauseIndex,
    queries: QueryBuilder,
    monkeypatch: pytest.MonkeyPatch,
    k: int,
    compiled: bool,
) -> None:
    """Whichever way the postings are summed (``retrieval.postings``: compiled or numpy)."""
    monkeypatch.setattr(postings, "compiled", compiled)
    rng = random.Random(k)
    gazetteer = load_gazetteer()
    for question in QUESTIONS:
        topics = {label: rng.choice([0.0, 0.5, 0.9]) for label in index.labels}
        query = queries.build(question, intents=topics)
        for places in ([], gazetteer.find("南山"), gazetteer.find("东莞"), gazetteer.find("广东")):
            tiers = index.tiers(places)
            expected = plain(index, query, k, tiers)
            assert searched(index, query, k, tiers) == expected, (question, places)
            shown = [index.clauses[p].id for p, _, _ in expected[: rng.randint(0, len(expected))]]
            assert searched(index, query, k, tiers, shown) == plain(index, query, k, tiers, shown)


def test_searches_at_once_in_threads_rank_as_searches_one_at_a_time(
    index: ClauseIndex, queries: QueryBuilder
) -> None:
    """Each search takes its own scratch arrays: none sees another's sums."""
    built = [queries.build(question) for question in QUESTIONS]
    alone = [searched(index, query, 20) for query in built]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda query: searched(index, query, 20), built * 4))
    assert together == alone * 4


def test_a_query_without_words_or_topics_ranks_as_the_plain_way(
    index: ClauseIndex, queries: QueryBuilder
) -> None:
    for query in (queries.build("怎么办？"), queries.build("5g"), queries.build("贷款")):
        assert searched(index, query, 5) == plain(index, query, 5)


def test_boosts_read_at_any_clauses_are_the_whole_corpus_products(
    index: ClauseIndex, queries: QueryBuilder
) -> None:
    """One row, a few, many, in any order: the same floats as the arrays over every clause."""
    query = queries.build("贷款贴息申报截止时间和联系电话", intents={"loans": 0.7, "5g": 0.2})
    tiers = index.tiers(load_gazetteer().find("南山"))
    ones = np.ones(len(index.clauses))
    whole = topic_and_kind_boost(
        ones,
        query,
        labels=index.labels,
        intent_profile=index.intent_profile,
        kind_masks=index.kind_masks,
    )
    whole = whole * index.opening_prior * tiers
    boost = index._boosts.of(query, tiers, np.array([5, 17]))
    assert max(np.max(whole), 0.0) <= boost.bound
    rng = np.random.default_rng(3)
    for size in (1, 1, 2, 3, 5, 64, 1000):
        positions = rng.choice(len(ones), size, replace=False)
        expected = whole[positions]
        expected[np.isin(positions, [5, 17])] = 0.0
        assert np.array_equal(boost.at(ones[positions], positions), expected)


def test_what_is_kept_per_word_is_what_counting_afresh_gives(
    index: ClauseIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = index.fields
    terms = [t for t in list(fields.words.vocabulary)[:300] if fields.words.postings(t).size]
    monkeypatch.setattr(scoring, "WORDS_KEPT", 5000)  # let go of words again and again
    fields._words.clear()
    for term in terms * 2:
        clauses, data = fields.words.row(term)
        docs = fields.doc_of_clause[clauses]
        in_title = np.isin(docs, fields.titles.postings(term))
        running = (np.bincount(docs, minlength=fields.document_count)[docs] >= 2) | in_title
        word = fields.word(term)
        assert np.array_equal(word.through, running), term
        assert np.array_equal(
            word.folded, np.where(running, data * (1 - TITLE_WORD_DISCOUNT), data)
        )
        assert fields.word(term) is word  # kept: the second question reads it
        assert sum(len(w.folded) for w in fields._words.values()) <= 5000 + len(clauses)


def test_word_scores_discount_where_a_word_runs_through_its_document(
    index: ClauseIndex, queries: QueryBuilder
) -> None:
    for question in QUESTIONS:
        query = queries.build(question)
        expected = index.words.scores(query.terms)
        for term, weight in query.terms.items():
            clauses, data = index.words.row(term)
            if weight and len(clauses):
                docs = index.doc_of_clause[clauses]
                counts = np.bincount(docs, minlength=index.fields.document_count)
                running = counts >= 2
                running[index.titles.postings(term)] = True
                through = running[docs]
                expected[clauses[through]] -= TITLE_WORD_DISCOUNT * weight * data[through]
        assert np.array_equal(index.fields.word_scores(query), expected), question


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_scores_add_like_one_bincount_over_all_the_rows(dtype: type) -> None:
    """Each term added into the clauses in query order: the bits of main's single bincount."""
    rng = random.Random(1)
    words = [f"w{i}" for i in range(40)]
    corpus = [rng.choices(words, k=rng.randint(1, 30)) for _ in range(500)]
    index = SparseBM25(corpus, dtype=dtype, min_idf=0.05)
    for _ in range(50):
        weights = {rng.choice([*words, "missing"]): rng.choice([1.0, 0.5, 2.0, 0.0, 3.0])}
        weights.update({w: rng.choice([1.0, 0.5]) for w in rng.sample(words, 6)})
        indices, data = [], []
        for term, weight in weights.items():
            if term in index.vocabulary and weight:
                clauses, values = index.row(term)
                indices.append(clauses)
                data.append(values if weight == 1.0 else values * weight)
        expected = np.bincount(
            np.concatenate(indices), weights=np.concatenate(data), minlength=index.n_docs
        )
        assert np.array_equal(index.scores(weights), expected)


@pytest.mark.parametrize("seed", range(6))
def test_candidates_are_every_clause_the_first_pass_may_misplace(seed: int) -> None:
    """Whatever the boosts, the bound prunes nothing that could rank: the candidates are the
    clauses whose boosted first-pass score is within the margin of the k-th best."""
    rng = np.random.default_rng(seed)
    n, k, margin = 20_000, int(rng.choice([1, 5, 60])), 1e-6
    total = np.round(rng.random(n) * rng.choice([0, 1], n, p=[0.3, 0.7]), 1)  # ties, zeros
    total *= 1 + rng.choice([0.0, 3e-7, -3e-7], n)  # and near ties, within the margin
    kinds = (rng.random(n) < 0.2, rng.random(n) < 0.5)
    boost = ranking.QueryBoost(
        profile=np.round(rng.random((n, 3)), 1),
        topics=np.array([0.5, 0.0, 0.5]),
        kinds=kinds,
        opening=rng.choice([1.0, 0.6, 0.3], n),
        tiers=rng.choice([0.0, 0.55, 0.7, 1.0], n) if seed % 2 else None,
        excluded=np.sort(rng.choice(n, 50, replace=False)),
        bound=1.0 + ranking.INTENT_BOOST,  # the largest topic factor: profile values < 1
    )
    boost = dataclasses.replace(boost, bound=boost.bound * 4.0)  # two kinds, at most 2× each
    candidates = ranking._candidates(total, k, boost, margin, ranking._Arrays(n))
    boosted = boost.at(total, np.arange(n))
    if np.count_nonzero(boosted > 0) >= k:
        kth = np.sort(boosted)[-k]
        expected = np.flatnonzero(boosted >= kth * (1 - margin) / (1 + margin))
    else:
        expected = np.flatnonzero(boosted > 0)
    assert np.array_equal(candidates, expected)


def _two_way_fields(a: float, b: float, c: float) -> tuple[ClauseFields, Query]:
    """Three clauses: X (words a, b), Z (a, d: in X's document, so a runs through it and is
    discounted in X), Y (c, in a document of its own); the words' BM25 weights set by hand."""
    words = SparseBM25([["a", "b"], ["a", "d"], ["c"]], min_idf=0.05)
    for term, value in {"a": a, "b": b, "c": c}.items():
        row = words.vocabulary[term]
        words._data[words._indptr[row] : words._indptr[row + 1]] = value
    chars = SparseBM25([["q"], ["q"], ["q"]], dtype=np.float32, min_idf=0.05)
    titles = SparseBM25([["t0"], ["t1"]], forward=True, min_idf=0.05)
    fields = ClauseFields(words, chars, titles, np.array([0, 0, 1]), 2)
    query = Query(
        terms={"a": 1.0, "b": 1.0, "c": 1.0},
        content_terms=["a", "b", "c"],
        information={},
        alternatives={},
        parts={},
        intents={},
        chars={},
        kinds=[],
        emphasis={},
    )
    return fields, query


@pytest.mark.parametrize("discount", [scoring.TITLE_WORD_DISCOUNT, 0.9, 0.99])
def test_the_words_best_found_when_the_first_pass_orders_two_clauses_otherwise(
    discount: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """X's plain words sum (a + b − D·a) is the field's best, but the first pass (a·(1 − D) + b,
    rounded otherwise) puts Y (c, in between) first: the error margin must bring X back, or
    every score is scaled by the wrong best. With a larger discount the plain sum's
    cancellation magnifies its rounding: the margin grows with it."""
    monkeypatch.setattr(scoring, "TITLE_WORD_DISCOUNT", discount)
    monkeypatch.setattr(ranking, "TITLE_WORD_DISCOUNT", discount)
    rng = random.Random(0)
    found = 0
    for _ in range(200_000):
        a, b = rng.uniform(0.5, 8.0), rng.uniform(0.001, 8.0)
        plain = (0.0 + a + b) - discount * 1.0 * a
        first = (0.0 + a * (1.0 - discount)) + b
        if plain <= first:
            continue
        c = math.nextafter(plain, -math.inf)  # Y: just under X's plain sum, over its first
        if not first < c < plain:
            continue
        fields, query = _two_way_fields(a, b, c)
        boost = ranking.QueryBoost(
            np.zeros((3, 0)), None, (), None, None, np.zeros(0, np.int64), 1.0
        )
        expected_scores = fields.scores(query)
        expected = [(p, float(expected_scores[p])) for p in top_k(expected_scores, 3)]
        got = ranking.top(fields, query, 3, boost)
        assert list(zip(got.positions, got.scores, strict=True)) == expected
        found += 1
        if found == 20:
            break
    assert found  # the case exists: the test is not vacuous


def test_scratch_sets_of_an_old_corpus_size_are_let_go() -> None:
    pool = ranking._Scratch(kept=2)
    first, second = pool.take(100), pool.take(100)
    pool.give_back(first)
    pool.give_back(second)
    assert pool.take(100) is second  # kept and reused
    bigger = pool.take(200)  # a reload: the corpus has another size
    assert bigger.n == 200 and pool._free == []
    pool.give_back(first)  # a set of the old size coming back is not kept
    pool.give_back(bigger)
    assert pool._free == [bigger]
