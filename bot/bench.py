"""``policybot bench``: what a user waits for at any corpus size, beside rank-bm25 and bm25s.

The corpus (``retrieval.bench.synthetic_documents``: the seeds' sentences recombined) is stored
in a scratch SQLite database exactly as a reload stores it. Then, in one run:

- build: the first ``AnswerService`` on that database (reading the corpus, tokenising every
  clause with its worker processes, building the BM25 fields and masks) until it can answer,
  and until the parts it stores for other hosts in the background are stored; the workers'
  chunks and peak resident size;
- pickup: a second process (a fresh interpreter) starting its ``AnswerService`` on the same
  database, which maps the index files the first one left instead of tokenising, and one with
  no index files, which reads the stored parts from the database (another host); then cold
  ``policybot ask`` runs (with the project's bytecode kept, as installed, and recompiling it
  every run, as where PYTHONDONTWRITEBYTECODE is set);
- search: raw BM25 over the words field (query tokens in, top 10 out) and ``ClauseIndex.search``;
- answer: ``AnswerService.answer`` on questions of ``bench.toml`` (understanding, ranking,
  excerpts), without the database;
- the same corpus's tokens indexed and searched by our words field alone, rank-bm25 and bm25s;
- real text: what preparing and cutting a clause of the corpus folder's own documents costs
  (the synthetic corpus repeats its pieces; real pages seldom do), with jieba's loops compiled
  and with jieba's own.

Every timing is a median with its 95th percentile; memory is the resident set added.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

from retrieval import postings, segment
from retrieval.bench import (
    anonymous_rss_mb,
    bags,
    baselines,
    bench_questions,
    peak_mb,
    real_text,
    rss_mb,
    synthetic_documents,
    timed,
    token_queries,
)
from retrieval.index import top_k

COLD_ASKS = 5  # cold `policybot ask` runs (their median)


def _second_process(
    database_url: str, corpus_dir: Path, index_dir: Path, question: str
) -> dict[str, Any]:
    """A fresh interpreter picking up the stored version, then cold ``policybot ask`` runs.

    Twice: on this machine, where the first process left the version's index files in
    ``index_dir`` (what every further process of a host does), and as a process of another
    host would, with an empty index folder (it reads the parts from the database once).
    """
    script = (
        "import json, time; started = time.perf_counter()\n"
        "from bot.answering import AnswerService\nfrom bot.db import make_engine\n"
        "from bot.settings import Settings\nimported = time.perf_counter()\n"
        "settings = Settings(_env_file=None)\n"
        "service = AnswerService(make_engine(settings.database_url), settings)\n"
        "done = time.perf_counter()\n"
        "status = dict(l.split(':', 1) for l in open('/proc/self/status') if ':' in l)\n"
        "mb = lambda key: int(status[key].split()[0]) / 1024\n"
        "print(json.dumps({'imports_s': imported - started, 'pickup_s': done - imported,"
        " 'rebuilt': service.index_parts.built, 'loaded': service.index_parts.loaded,"
        " 'mapped': service.index_parts.mapped,"
        " 'rss_mb': mb('VmRSS'), 'peak_mb': mb('VmHWM')}))\n"
    )
    env = {**os.environ, "DATABASE_URL": database_url, "CORPUS_DIR": str(corpus_dir)}
    uncompiled = {**env, "PYTHONDONTWRITEBYTECODE": "1", "INDEX_DIR": str(index_dir)}
    uncompiled.pop("PYTHONPYCACHEPREFIX", None)
    # as on an installed machine, the interpreter keeps the project's compiled bytecode (in a
    # scratch folder; the checkout is not changed); and, for cold asks, also as where
    # PYTHONDONTWRITEBYTECODE is set and every run compiles the project's modules again
    with tempfile.TemporaryDirectory(prefix="policybot-bench-pycache-") as pycache:
        compiled = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        compiled.update(PYTHONPYCACHEPREFIX=pycache, INDEX_DIR=str(index_dir))

        def pickup(folder: Path) -> dict[str, Any]:
            done = subprocess.run(
                [sys.executable, "-c", script],
                env={**compiled, "INDEX_DIR": str(folder)},
                capture_output=True,
                text=True,
                check=True,
            )
            return dict(json.loads(done.stdout.strip().splitlines()[-1]))

        _cold_ask(question, compiled)  # writes the bytecode, as an install does
        with tempfile.TemporaryDirectory(prefix="policybot-bench-host-") as elsewhere:
            from_database = pickup(Path(elsewhere))
        here = pickup(index_dir)
        asks = [_cold_ask(question, compiled) for _ in range(COLD_ASKS)]
    asks_uncompiled = [_cold_ask(question, uncompiled) for _ in range(COLD_ASKS)]
    return {
        "pickup_s": round(here["pickup_s"], 3),
        "pickup_imports_s": round(here["imports_s"], 3),
        "pickup_rebuilt": here["rebuilt"],
        "pickup_mapped": here["mapped"],
        "pickup_rss_mb": round(here["rss_mb"], 1),
        "pickup_peak_rss_mb": round(here["peak_mb"], 1),
        "pickup_from_database_s": round(from_database["pickup_s"], 3),
        "pickup_from_database_rebuilt": from_database["rebuilt"],
        "pickup_from_database_loaded": from_database["loaded"],
        "pickup_from_database_peak_rss_mb": round(from_database["peak_mb"], 1),
        "cold_ask_s": round(statistics.median(asks), 3),
        "cold_ask_max_s": round(max(asks), 3),
        "cold_ask_recompiling_s": round(statistics.median(asks_uncompiled), 3),
    }


def _cold_ask(question: str, env: dict[str, str]) -> float:
    """Seconds of one ``policybot ask`` in a fresh interpreter, start to exit."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "ask", question], env=env, capture_output=True, check=True
    )
    return time.perf_counter() - started


def run_bench(
    *,
    passages: int,
    queries: int,
    corpus_dir: Path,
    seed: int = 7,
    with_baselines: bool = True,
    second_process: bool = True,
) -> dict[str, Any]:
    from bot.answering import AnswerService
    from bot.db import create_tables, make_engine
    from bot.settings import Settings, get_settings
    from intents import OTHER, get_classifier
    from retrieval.corpus import CorpusRead, read_corpus
    from retrieval.memory import release_freed_memory
    from retrieval.search import get_synonyms
    from retrieval.store import swap_corpus
    from retrieval.tokenize import PolicyTokenizer, get_tokenizer

    rng = random.Random(seed)
    seeds = read_corpus(corpus_dir).documents
    documents = synthetic_documents(seeds, passages, rng)
    questions = bench_questions()
    # what every process loads before serving
    get_tokenizer(get_settings().cache_dir), get_classifier(), get_synonyms()
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
        index_dir = Path(scratch) / "index"
        settings = Settings(
            database_url=url,
            corpus_dir=corpus_dir,
            index_dir=index_dir,
            _env_file=None,  # type: ignore[call-arg]
        )
        gc.collect()
        release_freed_memory()  # the baseline without what earlier work freed (a build trims)
        rss_before, peak_before, anonymous_before = rss_mb(), peak_mb(), anonymous_rss_mb()
        started = time.perf_counter()
        service = AnswerService(engine, settings)
        build_s = time.perf_counter() - started  # ready to answer
        service.index_parts.finish()  # the parts stored for other hosts (in the background)
        stored_s = time.perf_counter() - started
        gc.collect()
        index = service.index
        result: dict[str, Any] = {
            "passages": passages,
            "documents": len(index.documents),
            "characters": characters,
            "distinct_words": len(index.words.terms),
            "reload_s": round(reload_s, 3),
            "build_s": round(build_s, 3),
            "build_stored_s": round(stored_s, 3),
            "build_worker_chunks": index.worker_chunks,
            "build_worker_peak_mb": round(index.worker_peak_mb, 1),
            "rss_added_mb": round(rss_mb() - rss_before, 1),
            # of which the process's own memory (the rest: pages of the mapped index files)
            "rss_anonymous_added_mb": round(anonymous_rss_mb() - anonymous_before, 1),
            "peak_added_mb": round(max(peak_mb() - peak_before, 0.0), 1),
            "words_index_mb": round(index.words.memory_bytes() / 2**20, 1),
            "chars_index_mb": round(index.chars.memory_bytes() / 2**20, 1),
            "postings_compiled": postings.compiled,  # retrieval._postings built (else numpy)
            "segment_compiled": segment.compiled,  # retrieval._segment built (else jieba's own)
        }
        if second_process:
            result.update(_second_process(url, corpus_dir, index_dir, questions[0]))
        searched = token_queries(index, queries, rng)
        built = [service.queries.build(q) for q in questions]
        result["search_raw"] = timed(lambda q: top_k(index.words.scores(q), 10), searched)
        result["search_index"] = timed(lambda q: index.search(q, k=10), built * 3)
        result["answer"] = timed(service.answer, questions * 3)
        result["queries"] = len(searched)
        if with_baselines:
            result.update(baselines(bags(index.words), searched))
        # real pages' cost a clause: the seeds' (or CORPUS_DIR's) own clauses, pieces not repeated
        classifier = get_classifier()
        topics = [label for label in classifier.order if label != OTHER]
        result["real_text"] = real_text(
            seeds,
            lambda: PolicyTokenizer(cache_dir=get_settings().cache_dir),
            partial(classifier.profile, labels=topics),
            len(topics),
        )
        engine.dispose()
    return result


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
