"""``policybot bench``: the sparse BM25 index against rank-bm25 on a synthetic corpus.

The corpus is drawn from the seeds' own vocabulary (word frequencies and clause lengths of the
real clauses), so the index sees the term distribution it will see in production, at any size.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from rank_bm25 import BM25Okapi

from retrieval.index import SparseBM25, top_k
from retrieval.tokenize import get_tokenizer

RANK_BM25_QUERIES = 15  # rank-bm25 takes ~0.1 s a query at 100k passages: a sample is enough


def seed_clause_tokens(corpus_dir: Path) -> list[list[str]]:
    """Tokens of every clause of the seed documents (read straight from the folder)."""
    from retrieval.corpus import read_corpus

    tokenizer = get_tokenizer()
    corpus = read_corpus(corpus_dir)
    return [
        tokenizer.tokens(" ".join((*clause.headings, clause.text)))
        for document in corpus.documents
        for clause in document.clauses
    ]


def synthetic_corpus(
    seed_tokens: list[list[str]], passages: int, rng: random.Random
) -> list[list[str]]:
    """``passages`` token lists with the seeds' word frequencies and clause lengths."""
    counts = Counter(token for tokens in seed_tokens for token in tokens)
    vocabulary = list(counts)
    weights = np.array([counts[t] for t in vocabulary], dtype=np.float64)
    weights /= weights.sum()
    lengths = [len(tokens) for tokens in seed_tokens if tokens]
    generator = np.random.default_rng(rng.randrange(2**32))
    drawn_lengths = generator.choice(lengths, size=passages)
    flat = generator.choice(len(vocabulary), size=int(drawn_lengths.sum()), p=weights)
    corpus, cursor = [], 0
    for length in drawn_lengths:
        corpus.append([vocabulary[i] for i in flat[cursor : cursor + length]])
        cursor += length
    return corpus


def sample_queries(seed_tokens: list[list[str]], count: int, rng: random.Random) -> list[list[str]]:
    """Queries of 2–6 words taken from real clauses, as a question would use them."""
    pool = [tokens for tokens in seed_tokens if len(tokens) >= 6]
    queries = []
    for _ in range(count):
        tokens = rng.choice(pool)
        queries.append(rng.sample(tokens, rng.randint(2, 6)))
    return queries


def run_bench(*, passages: int, queries: int, corpus_dir: Path, seed: int = 7) -> dict[str, float]:
    rng = random.Random(seed)
    seed_tokens = seed_clause_tokens(corpus_dir)
    corpus = synthetic_corpus(seed_tokens, passages, rng)
    asked = sample_queries(seed_tokens, queries, rng)

    started = time.perf_counter()
    index = SparseBM25(corpus)
    build_s = time.perf_counter() - started

    timings = []
    for query in asked:
        started = time.perf_counter()
        top_k(index.scores(query), 10)
        timings.append((time.perf_counter() - started) * 1000)

    okapi = BM25Okapi(corpus)
    baseline = []
    for query in asked[:RANK_BM25_QUERIES]:
        started = time.perf_counter()
        scores = okapi.get_scores(query)
        np.argsort(-scores)[:10]
        baseline.append((time.perf_counter() - started) * 1000)

    p50 = statistics.median(timings)
    rank_p50 = statistics.median(baseline)
    return {
        "passages": passages,
        "queries": len(asked),
        "build_s": round(build_s, 3),
        "p50_ms": round(p50, 3),
        "p95_ms": round(float(np.percentile(timings, 95)), 3),
        "rank_bm25_p50_ms": round(rank_p50, 3),
        "speedup": round(rank_p50 / p50, 1) if p50 > 0 else None,
        "index_mb": round(index.memory_bytes() / 2**20, 1),
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def cmd_bench(args: argparse.Namespace) -> int:
    from bot.settings import get_settings

    if args.passages < 1:
        print("policybot bench: --passages must be at least 1", file=sys.stderr)
        return 2
    result = run_bench(
        passages=args.passages, queries=max(1, args.queries), corpus_dir=get_settings().corpus_dir
    )
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for key, value in result.items():
            print(f"{key:>18}: {value}")
    return 0
