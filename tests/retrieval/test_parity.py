"""The sparse index scores exactly like rank-bm25's BM25Okapi.get_scores on the real corpus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from retrieval.bench import seed_clause_tokens, synthetic_corpus
from retrieval.index import SparseBM25
from retrieval.tokenize import get_tokenizer

QUESTIONS = [
    "东莞5G项目能拿多少补贴",
    "融资租赁买设备有贴息吗",
    "中山英才计划特聘人才补贴标准",
    "宝安区上云上平台有什么补贴",
    "贷款 贷款 贴息 风险补偿",  # repeated tokens count again, as in rank-bm25
    "完全无关的问题",
]


@pytest.fixture(scope="module")
def seed_tokens(seeds_dir: Path) -> list[list[str]]:
    return seed_clause_tokens(seeds_dir)


@pytest.fixture(scope="module")
def seeds_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "seeds"


def test_scores_equal_rank_bm25_on_the_seed_clauses(seed_tokens: list[list[str]]) -> None:
    okapi = BM25Okapi(seed_tokens)
    index = SparseBM25(seed_tokens)
    tokenizer = get_tokenizer()
    for question in QUESTIONS:
        query = tokenizer.tokens(question)
        assert np.allclose(index.scores(query), okapi.get_scores(query), atol=1e-6), question


def test_scores_equal_rank_bm25_on_a_synthetic_corpus(seed_tokens: list[list[str]]) -> None:
    import random

    corpus = synthetic_corpus(seed_tokens, 3000, random.Random(3))
    okapi, index = BM25Okapi(corpus), SparseBM25(corpus)
    rng = random.Random(5)
    for _ in range(20):
        query = rng.sample(rng.choice(corpus), 3)
        assert np.allclose(index.scores(query), okapi.get_scores(query), atol=1e-6)
