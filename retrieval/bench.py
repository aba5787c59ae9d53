"""``policybot bench``: what a user waits for, at any corpus size, beside rank-bm25 and bm25s.

The corpus is made of the seed documents' own sentences recombined into clauses of the seeds'
lengths, in documents carrying the seeds' metadata (so places and titles are real), stored in a
scratch SQLite database exactly as a reload stores it. Then, in one run:

- build: the first ``AnswerService`` on that database (reading the corpus, tokenising every
  clause, building the BM25 fields and masks, storing them for other processes);
- pickup: a second process (a fresh interpreter) starting its ``AnswerService`` on the same
  database, which loads the stored parts instead of tokenising (and its cold ``policybot ask``);
- search: raw BM25 over the words field (query tokens in, top 10 out) and ``ClauseIndex.search``;
- answer: ``AnswerService.answer`` on questions of ``bench.toml`` (understanding, ranking,
  excerpts), without the database;
- the same corpus's tokens indexed and searched by rank-bm25 and bm25s, when installed.

Every timing is a median with its 95th percentile; memory is the resident set added.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
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
from retrieval.tokenize import DATA_DIR
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


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(run: Callable[[Any], object], items: Sequence[Any]) -> dict[str, float]:
    timings = []
    for item in items:
        started = time.perf_counter()
        run(item)
        timings.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(statistics.median(timings), 3),
        "p95_ms": round(float(np.percentile(timings, 95)), 3),
    }


def _second_process(database_url: str, corpus_dir: Path, question: str) -> dict[str, Any]:
    """A fresh interpreter picking up the stored version, then a cold ``policybot ask``."""
    script = (
        "import json, resource, time; started = time.perf_counter()\n"
        "from bot.answering import AnswerService\nfrom bot.db import make_engine\n"
        "from bot.settings import Settings\nimported = time.perf_counter()\n"
        "settings = Settings(_env_file=None)\n"
        "service = AnswerService(make_engine(settings.database_url), settings)\n"
        "done = time.perf_counter()\n"
        "print(json.dumps({'imports_s': imported - started, 'pickup_s': done - imported,"
        " 'rebuilt': service.index_parts.built,"
        " 'rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    env = {**os.environ, "DATABASE_URL": database_url, "CORPUS_DIR": str(corpus_dir)}
    pickup = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    result = json.loads(pickup.stdout.strip().splitlines()[-1])
    asks = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "bot.cli", "ask", question],
            env=env,
            capture_output=True,
            check=True,
        )
        asks.append(time.perf_counter() - started)
    return {
        "pickup_s": round(result["pickup_s"], 3),
        "pickup_imports_s": round(result["imports_s"], 3),
        "pickup_rebuilt": result["rebuilt"],
        "pickup_peak_rss_mb": round(result["rss_mb"], 1),
        "cold_ask_s": round(statistics.median(asks), 3),
    }


def _bags(index: SparseBM25) -> list[list[str]]:
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


def _baselines(bags: list[list[str]], queries: list[list[str]]) -> dict[str, Any]:
    """rank-bm25 and bm25s on the same tokens (their build from tokens, their search)."""
    result: dict[str, Any] = {}
    try:
        import bm25s
    except ImportError:
        result["bm25s"] = "not installed (pip install 'policybot[bench]')"
    else:
        gc.collect()
        before = _rss_mb()
        started = time.perf_counter()
        vocabulary: dict[str, int] = {}
        ids = [[vocabulary.setdefault(t, len(vocabulary)) for t in bag] for bag in bags]
        model = bm25s.BM25()
        model.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocabulary), show_progress=False)
        build = time.perf_counter() - started
        search = _timed(
            lambda q: model.retrieve([q], k=10, show_progress=False, n_threads=0), queries
        )
        result["bm25s"] = {
            "version": bm25s.__version__,
            "build_s": round(build, 3),
            "rss_added_mb": round(_rss_mb() - before, 1),
            **search,
        }
        del model, ids
    if len(bags) > RANK_BM25_MAX_PASSAGES:
        result["rank_bm25"] = f"skipped above {RANK_BM25_MAX_PASSAGES} passages (memory)"
        return result
    from rank_bm25 import BM25Okapi

    gc.collect()
    before = _rss_mb()
    started = time.perf_counter()
    okapi = BM25Okapi(bags)
    build = time.perf_counter() - started
    result["rank_bm25"] = {
        "build_s": round(build, 3),
        "rss_added_mb": round(_rss_mb() - before, 1),
        **_timed(lambda q: np.argsort(-okapi.get_scores(q))[:10], queries[:RANK_BM25_QUERIES]),
    }
    return result


def run_bench(
    *,
    passages: int,
    queries: int,
    corpus_dir: Path,
    seed: int = 7,
    baselines: bool = True,
    second_process: bool = True,
) -> dict[str, Any]:
    from bot.answering import AnswerService
    from bot.db import create_tables, make_engine
    from bot.settings import Settings
    from intents import get_classifier
    from retrieval.corpus import CorpusRead, read_corpus
    from retrieval.search import get_synonyms
    from retrieval.store import swap_corpus
    from retrieval.tokenize import get_tokenizer

    rng = random.Random(seed)
    seeds = read_corpus(corpus_dir).documents
    documents = synthetic_documents(seeds, passages, rng)
    questions = bench_questions()
    get_tokenizer(), get_classifier(), get_synonyms()  # what every process loads before serving
    with tempfile.TemporaryDirectory(prefix="policybot-bench-") as scratch:
        url = f"sqlite:///{Path(scratch) / 'bench.db'}"
        engine = make_engine(url)
        create_tables(engine)
        started = time.perf_counter()
        swap_corpus(engine=engine, read=CorpusRead(Path(scratch), documents))
        reload_s = time.perf_counter() - started
        characters = sum(len(c.text) for d in documents for c in d.clauses)
        del documents
        gc.collect()
        settings = Settings(database_url=url, corpus_dir=corpus_dir, _env_file=None)
        rss_before, peak_before = _rss_mb(), _peak_mb()
        started = time.perf_counter()
        service = AnswerService(engine, settings)
        build_s = time.perf_counter() - started
        gc.collect()
        index = service.index
        result: dict[str, Any] = {
            "passages": passages,
            "documents": len(index.documents),
            "characters": characters,
            "distinct_words": len(index.words.terms),
            "reload_s": round(reload_s, 3),
            "build_s": round(build_s, 3),
            "rss_added_mb": round(_rss_mb() - rss_before, 1),
            "peak_added_mb": round(max(_peak_mb() - peak_before, 0.0), 1),
            "words_index_mb": round(index.words.memory_bytes() / 2**20, 1),
            "chars_index_mb": round(index.chars.memory_bytes() / 2**20, 1),
        }
        if second_process:
            result.update(_second_process(url, corpus_dir, questions[0]))
        token_queries = _token_queries(index, queries, rng)
        built = [service.queries.build(q) for q in questions]
        result["search_raw"] = _timed(lambda q: top_k(index.words.scores(q), 10), token_queries)
        result["search_index"] = _timed(lambda q: index.search(q, k=10), built * 3)
        result["answer"] = _timed(service.answer, questions * 3)
        result["queries"] = len(token_queries)
        if baselines:
            result.update(_baselines(_bags(index.words), token_queries))
        engine.dispose()
    return result


def _token_queries(index: Any, count: int, rng: random.Random) -> list[list[str]]:
    """Queries of 2–6 words of random clauses, as a question would use them."""
    queries = []
    for _ in range(count):
        terms = sorted(index.words.terms_of(rng.randrange(index.words.n_docs)))
        queries.append(rng.sample(terms, min(len(terms), rng.randint(2, 6))))
    return queries


def cmd_bench(args: argparse.Namespace) -> int:
    from bot.settings import get_settings

    if args.passages < 1:
        print("policybot bench: --passages 至少为 1", file=sys.stderr)
        return 2
    result = run_bench(
        passages=args.passages, queries=max(1, args.queries), corpus_dir=get_settings().corpus_dir
    )
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for key, value in result.items():
            print(f"{key:>20}: {value}")
    return 0
