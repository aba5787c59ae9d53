"""The retrieval side of ``policybot bench`` (run by ``bot.bench``): a realistic corpus of any
size, timings as medians with p95, memory, and rank-bm25 and bm25s on the same tokens.

The corpus is made of the seed documents' own sentences recombined into clauses of the seeds'
lengths, in documents carrying the seeds' metadata (so places and titles are real).
"""

from __future__ import annotations

import gc
import os
import random
import re
import resource
import statistics
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.index import SparseBM25, top_k
from retrieval.tokenize import DATA_DIR, PolicyTokenizer
from retrieval.types import ParsedClause, ParsedDocument

RANK_BM25_QUERIES = 15  # rank-bm25 takes ~0.1 s a query at 100k passages: a sample is enough
RANK_BM25_MAX_PASSAGES = 300_000  # beyond this its per-clause dicts need more memory than sense
CLAUSES_PER_DOCUMENT = 100
_SENTENCE = re.compile(r"[^。；！？]+[。；！？]?")


def bench_questions(path: Path = DATA_DIR / "bench.toml") -> list[str]:
    return list(tomllib.loads(path.read_text(encoding="utf-8"))["questions"])


def synthetic_documents(
    seeds: Sequence[ParsedDocument], passages: int, rng: random.Random
) -> list[ParsedDocument]:
    """``passages`` clauses of the seeds' sentences, recombined, in documents of 100 clauses
    each carrying one seed document's metadata (place, level, authority, title)."""
    clauses = [c for d in seeds for c in d.clauses if c.text.strip()]
    sentences = [s for c in clauses for s in _SENTENCE.findall(c.text) if s.strip()]
    lengths = [max(1, len(_SENTENCE.findall(c.text))) for c in clauses]
    headings = [c.headings for c in clauses]
    documents = []
    for number in range(0, passages, CLAUSES_PER_DOCUMENT):
        seed = seeds[(number // CLAUSES_PER_DOCUMENT) % len(seeds)]
        count = min(CLAUSES_PER_DOCUMENT, passages - number)
        made = [
            ParsedClause(
                section=f"{ordinal + 1}.",
                headings=rng.choice(headings),
                text="".join(rng.choices(sentences, k=rng.choice(lengths))),
                ordinal=ordinal,
            )
            for ordinal in range(count)
        ]
        documents.append(
            replace(
                seed,
                source=f"bench/{number // CLAUSES_PER_DOCUMENT:06d}.txt",
                doc_number=f"{seed.doc_number or '文号'}-{number // CLAUSES_PER_DOCUMENT}",
                clauses=made,
                text="",
                content_hash=f"{number:064d}",
            )
        )
    return documents


def real_text(
    documents: Sequence[ParsedDocument],
    make_tokenizer: Callable[[], PolicyTokenizer],
    topic_profile: Callable[[list[str]], np.ndarray] | None = None,
    labels: int = 0,
    repeats: int = 3,
) -> dict[str, Any]:
    """What a first build spends a clause of real text on, in one process: the documents' own
    clauses prepared (normalised, split, the characters, question kinds and topics) and each
    of their distinct pieces cut by jieba, with jieba's loops compiled (``retrieval.segment``)
    and with jieba's own, medians of ``repeats`` (a fresh tokenizer each time: nothing cut
    before). The synthetic corpus recombines the seeds' sentences, so its pieces repeat (0.2
    distinct pieces a clause at 100,000 clauses); real pages give several a clause."""
    from retrieval import segment
    from retrieval.search.chunks import ClausePreparer
    from retrieval.word_ids import piece_words

    raw = [" ".join((*c.headings, c.text)) for d in documents for c in d.clauses]
    raw = [text for text in raw if text.strip()]
    if not raw:
        return {}
    prepared: list[float] = []
    cut: dict[bool, list[float]] = {True: [], False: []}
    pieces = 0
    saved = segment.compiled
    try:
        for _ in range(repeats):
            for way in (True, False):
                tokenizer = make_tokenizer()
                tokenizer.load_whole_dictionary()
                preparer = ClausePreparer(tokenizer.recipe(), topic_profile, labels)
                started = time.perf_counter()
                chunk = preparer.prepare(tokenizer, raw, [""] * len(raw))
                prepared.append(time.perf_counter() - started)
                segment.compiled = way
                started = time.perf_counter()
                piece_words(tokenizer, chunk.pieces.terms)
                cut[way].append(time.perf_counter() - started)
                pieces = len(chunk.pieces.terms)
    finally:
        segment.compiled = saved
    per_clause = 1e6 / len(raw)
    prepare_us = statistics.median(prepared) * per_clause
    cut_us = statistics.median(cut[True]) * per_clause
    return {
        "clauses": len(raw),
        "characters_per_clause": round(sum(map(len, raw)) / len(raw), 1),
        "distinct_pieces_per_clause": round(pieces / len(raw), 2),
        "prepare_us_per_clause": round(prepare_us, 1),
        "cut_us_per_clause": round(cut_us, 1),
        "cut_us_per_clause_jieba_python": round(statistics.median(cut[False]) * per_clause, 1),
        "us_per_clause": round(prepare_us + cut_us, 1),
    }


def seed_clause_tokens(corpus_dir: Path) -> list[list[str]]:
    """Tokens of every clause of the seed documents (read straight from the folder)."""
    from retrieval.corpus import read_corpus
    from retrieval.tokenize import get_tokenizer

    tokenizer = get_tokenizer()
    return [
        tokenizer.tokens(" ".join((*clause.headings, clause.text)))
        for document in read_corpus(corpus_dir).documents
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


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def anonymous_rss_mb() -> float:
    """The resident memory that is the process's own (``RssAnon``): not the pages of mapped
    files (the index parts), which the page cache holds once for every process of a machine
    and can drop."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(run: Callable[[Any], object], items: Sequence[Any]) -> dict[str, float]:
    timings = []
    for item in items:
        started = time.perf_counter()
        run(item)
        timings.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(statistics.median(timings), 3),
        "p95_ms": round(float(np.percentile(timings, 95)), 3),
    }


def bags(index: SparseBM25) -> list[list[str]]:
    """Each clause's words as a bag (term repeated by its count): what BM25 sees of it."""
    indptr, indices, frequencies = index.counts()
    bags: list[list[str]] = [[] for _ in range(index.n_docs)]
    for term_id, term in enumerate(index.terms):
        start, end = indptr[term_id], indptr[term_id + 1]
        for clause, tf in zip(
            indices[start:end].tolist(), frequencies[start:end].tolist(), strict=True
        ):
            bags[clause].extend([term] * tf)
    return bags


def baselines(clauses: list[list[str]], queries: list[list[str]]) -> dict[str, Any]:
    """Our words field, rank-bm25 and bm25s on the same tokens (each one's build from the
    token lists, its memory, its search of the top 10)."""
    result: dict[str, Any] = {}
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    ours = SparseBM25(clauses)
    build = time.perf_counter() - started
    added = rss_mb() - before

    def search_ours(query: list[str], index: SparseBM25 = ours) -> object:
        return top_k(index.scores(query), 10)

    search = timed(search_ours, queries)
    del search_ours
    result["policybot_words_field"] = {
        "build_s": round(build, 3),
        "rss_added_mb": round(added, 1),
        **search,
    }
    del ours
    try:
        import bm25s
    except ImportError:
        result["bm25s"] = "not installed (pip install 'policybot[bench]')"
    else:
        gc.collect()
        before = rss_mb()
        started = time.perf_counter()
        vocabulary: dict[str, int] = {}
        ids = [[vocabulary.setdefault(t, len(vocabulary)) for t in bag] for bag in clauses]
        model = bm25s.BM25()
        model.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocabulary), show_progress=False)
        build = time.perf_counter() - started
        added = rss_mb() - before
        search = timed(
            lambda q: model.retrieve([q], k=10, show_progress=False, n_threads=0), queries
        )
        with tempfile.TemporaryDirectory(prefix="policybot-bm25s-") as saved:
            model.save(saved)
            started = time.perf_counter()
            bm25s.BM25.load(saved)
            load = time.perf_counter() - started
        result["bm25s"] = {
            "version": bm25s.__version__,
            "build_s": round(build, 3),
            "load_s": round(load, 3),
            "rss_added_mb": round(added, 1),
            **search,
        }
        del model, ids
    if len(clauses) > RANK_BM25_MAX_PASSAGES:
        result["rank_bm25"] = f"skipped above {RANK_BM25_MAX_PASSAGES} passages (memory)"
        return result
    from rank_bm25 import BM25Okapi

    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    okapi = BM25Okapi(clauses)
    build = time.perf_counter() - started
    result["rank_bm25"] = {
        "build_s": round(build, 3),
        "rss_added_mb": round(rss_mb() - before, 1),
        **timed(lambda q: np.argsort(-okapi.get_scores(q))[:10], queries[:RANK_BM25_QUERIES]),
    }
    return result


def token_queries(index: Any, count: int, rng: random.Random) -> list[list[str]]:
    """Queries of 2–6 words of random clauses, as a question would use them."""
    queries = []
    for _ in range(count):
        terms = sorted(index.words.terms_of(rng.randrange(index.words.n_docs)))
        queries.append(rng.sample(terms, min(len(terms), rng.randint(2, 6))))
    return queries
