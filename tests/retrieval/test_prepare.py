"""Clauses prepared in chunks, by this process and worker processes: the same index, bit for bit.

The worker tests start a real worker process (``spawn``): about a second each.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from intents import OTHER, get_classifier
from retrieval.corpus import read_corpus
from retrieval.search import prepare
from retrieval.search.chars import char_term_ids
from retrieval.search.chunks import ClausePreparer, PreparedClauses
from retrieval.search.prepare import Preparation
from retrieval.search.query import get_question_kinds
from retrieval.term_ids import TokenIds
from retrieval.tokenize import TokenizerRecipe, get_tokenizer
from zhtext.normalize import normalize_texts

ROOT = Path(__file__).resolve().parents[2]
TOPICS = [label for label in get_classifier().order if label != OTHER]


def _clauses() -> tuple[list[str], list[str]]:
    raw, titles = [], []
    for folder in (ROOT / "seeds", ROOT / "tests" / "retrieval" / "fixtures" / "real"):
        for document in read_corpus(folder).documents:
            for clause in document.clauses:
                raw.append(" ".join((*clause.headings, clause.text)))
                titles.append(document.title)
    return raw, normalize_texts(titles)


def _preparer(recipe: TokenizerRecipe | None = None) -> ClausePreparer:
    profile = partial(get_classifier().profile, labels=TOPICS)
    return ClausePreparer(recipe or get_tokenizer().recipe(), profile, len(TOPICS))


def _expected(raw: list[str], titles: list[str]) -> PreparedClauses:
    """What one process computes clause by clause, the way the index did before chunks."""
    texts = normalize_texts(raw)
    in_document = [f"{title} {text}" for title, text in zip(titles, texts, strict=True)]
    return PreparedClauses(
        texts=texts,
        words=get_tokenizer().encode(texts, TokenIds()),
        chars=char_term_ids(texts),
        kinds=get_question_kinds().masks(texts),
        intents=get_classifier().profile(in_document, TOPICS),
    )


def _assert_same(got: PreparedClauses, expected: PreparedClauses) -> None:
    assert got.texts == expected.texts
    for field in ("words", "chars"):
        ours, theirs = getattr(got, field), getattr(expected, field)
        assert ours.terms() == theirs.terms(), field
        assert np.array_equal(ours.ids, theirs.ids), field
        assert np.array_equal(ours.offsets, theirs.offsets), field
    assert np.array_equal(got.kinds, expected.kinds)
    assert np.array_equal(got.intents, expected.intents)  # exact: no tolerance


def _prepared(preparer: ClausePreparer, workers: int, **options: int) -> PreparedClauses:
    raw, titles = _clauses()
    return Preparation(
        preparer, get_tokenizer(), lambda: (raw, titles), workers=workers, **options
    ).result()


@pytest.mark.parametrize("chunk_clauses", [None, 7])
def test_a_corpus_prepared_by_this_process_alone_is_prepared_as_clause_by_clause(
    chunk_clauses: int | None,
) -> None:
    """Alone, too, this process prepares chunks (a chunk's temporary arrays are its size):
    merged, they are what one pass over every clause gives."""
    raw, titles = _clauses()
    options = {} if chunk_clauses is None else {"chunk_clauses": chunk_clauses}
    got = _prepared(_preparer(), workers=0, **options)
    _assert_same(got, _expected(raw, titles))
    assert got.worker_chunks == 0 and len(got.texts) == len(raw) > 100


def test_chunks_prepared_by_a_worker_process_merge_into_the_same_index(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(prepare, "PARALLEL_MIN_PIECES", 0)  # the worker cuts half the pieces
    raw, titles = _clauses()
    with caplog.at_level(logging.WARNING, logger="retrieval.search.prepare"):
        got = _prepared(_preparer(), workers=1, chunk_clauses=9, min_clauses=0)
    _assert_same(got, _expected(raw, titles))
    assert got.worker_chunks > 0 and got.worker_peak_mb > 0
    assert not caplog.records  # nothing fell back to this process


class _FailsInWorker:
    """A topic profile that kills (``die``) or hangs its worker process on its third chunk."""

    def __init__(self, how: str) -> None:
        self.how = how
        self.profile = partial(get_classifier().profile, labels=TOPICS)

    def __call__(self, texts: list[str]) -> np.ndarray:
        global _CALLS_IN_WORKER
        if multiprocessing.parent_process() is not None:  # in the worker only
            _CALLS_IN_WORKER += 1
            if _CALLS_IN_WORKER == 3:
                if self.how == "die":
                    os._exit(9)
                time.sleep(3600)
        return self.profile(texts)


_CALLS_IN_WORKER = 0


@pytest.mark.parametrize("how", ["die", "hang"])
def test_a_worker_that_dies_or_hangs_mid_build_leaves_its_chunks_to_this_process(
    how: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(prepare, "WORKER_TIMEOUT_SECONDS", 3.0)
    raw, titles = _clauses()
    preparer = ClausePreparer(get_tokenizer().recipe(), _FailsInWorker(how), len(TOPICS))
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="retrieval.search.prepare"):
        got = _prepared(preparer, workers=1, chunk_clauses=9, min_clauses=0)
    _assert_same(got, _expected(raw, titles))
    assert got.worker_chunks > 0  # two chunks were done before it failed
    assert any("worker failed" in record.getMessage() for record in caplog.records)
    assert time.monotonic() - started < 60  # a hung worker is stopped, not waited for


def test_workers_are_let_go_when_the_clauses_cannot_be_read() -> None:
    def unreadable() -> tuple[list[str], list[str]]:
        raise RuntimeError("the version was replaced meanwhile")

    preparation = Preparation(
        _preparer(), get_tokenizer(), unreadable, count=500, workers=1, min_clauses=0
    )
    with pytest.raises(RuntimeError):
        preparation.start()
    assert preparation._pool is None  # started before the read, stopped after it failed


def test_workers_are_handed_at_most_their_share_at_the_start() -> None:
    raw, titles = _clauses()
    preparation = Preparation(
        _preparer(),
        get_tokenizer(),
        lambda: (raw, titles),
        workers=3,
        chunk_clauses=10,
        min_clauses=0,
    )
    try:
        preparation.start()
        chunks = len(preparation._ranges)
        assert 0 < len(preparation._futures) <= chunks * 3 // 4
    finally:
        preparation.close()


def test_a_worker_that_cannot_start_leaves_its_chunks_to_this_process(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    raw, titles = _clauses()
    broken = TokenizerRecipe(tmp_path / "no-such-data", None)  # the worker fails at start
    with caplog.at_level(logging.WARNING, logger="retrieval.search.prepare"):
        got = _prepared(_preparer(broken), workers=1, chunk_clauses=40, min_clauses=0)
    _assert_same(got, _expected(raw, titles))
    assert got.worker_chunks == 0
    assert any("worker failed" in record.getMessage() for record in caplog.records)


def test_a_preparer_no_worker_can_rebuild_is_run_here(caplog: pytest.LogCaptureFixture) -> None:
    raw, titles = _clauses()
    preparer = _preparer()
    profile = preparer.topic_profile
    assert profile is not None
    unpicklable = ClausePreparer(preparer.tokenizer, lambda texts: profile(texts), len(TOPICS))
    with caplog.at_level(logging.INFO, logger="retrieval.search.prepare"):
        got = _prepared(unpicklable, workers=1, chunk_clauses=40, min_clauses=0)
    _assert_same(got, _expected(raw, titles))
    assert got.worker_chunks == 0
    assert any("cannot be pickled" in record.getMessage() for record in caplog.records)


def test_small_corpora_and_zero_workers_start_no_process() -> None:
    small = Preparation(_preparer(), get_tokenizer(), _clauses, workers=3)  # below the minimum
    small.start()
    assert small._pool is None and small._ranges == [(0, len(small._raw))]
    none = Preparation(_preparer(), get_tokenizer(), _clauses, workers=0, min_clauses=0)
    none.start()
    assert none._pool is None
    assert 0 <= prepare.default_workers() <= 3


def test_a_tokenizer_rebuilt_from_its_recipe_cuts_alike() -> None:
    from retrieval.tokenize import PolicyTokenizer

    taught = PolicyTokenizer()
    taught.add_words(["惠企通办公室", "数智贷"])
    rebuilt = taught.recipe().build()
    text = "惠企通办公室负责数智贷贴息申报，补贴500万元"
    assert rebuilt.tokens(text) == taught.tokens(text)
    assert "惠企通办公室" in rebuilt.tokens(text)


def test_an_index_built_with_a_worker_is_the_index_built_alone(
    db_engine: Engine, seeds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole build (parts, masks, profile, searches) with a worker process preparing
    chunks of the seeds is the build of one process, bit for bit."""
    from retrieval.search import ClauseIndex, QueryBuilder, get_synonyms
    from retrieval.store import load_live_corpus, reload_corpus
    from retrieval.tokenize import PolicyTokenizer

    reload_corpus(engine=db_engine, corpus_dir=seeds_dir)
    monkeypatch.setattr(prepare, "PARALLEL_MIN_CLAUSES", 0)
    monkeypatch.setattr(prepare, "CHUNK_CLAUSES", 25)
    profile = partial(get_classifier().profile, labels=TOPICS)

    def build(workers: int) -> ClauseIndex:
        corpus = load_live_corpus(db_engine)
        assert corpus is not None
        return ClauseIndex(
            corpus,
            tokenizer=PolicyTokenizer(),
            topics=TOPICS,
            topic_profile=profile,
            build_workers=workers,
        )

    alone, shared = build(0), build(1)
    assert alone.worker_chunks == 0 and shared.worker_chunks > 0
    for field in ("words", "chars", "titles"):
        assert getattr(shared, field).to_bytes() == getattr(alone, field).to_bytes(), field
    assert np.array_equal(shared.intent_profile, alone.intent_profile)
    assert all(np.array_equal(shared.kind_masks[k], m) for k, m in alone.kind_masks.items())
    queries = QueryBuilder(alone.tokenizer, get_synonyms())
    for question in ("5G基站建设补贴多少", "贷款贴息怎么申请", "人才补贴申报截止时间"):
        query = queries.build(question)
        ours = [(h.clause.id, h.score) for h in shared.search(query, k=5)]
        assert ours == [(h.clause.id, h.score) for h in alone.search(query, k=5)]
        assert ours


SCRIPT = """
import sys
from functools import partial

with open(sys.argv[1], "a", encoding="utf-8") as runs:  # each time this script runs
    runs.write("run\\n")
from intents import OTHER, get_classifier
from retrieval.search.chunks import ClausePreparer
from retrieval.search.prepare import Preparation
from retrieval.tokenize import get_tokenizer

raw = ["第一条 企业贷款贴息按照 50% 给予补助。", "第二条 5G 基站建设给予 100 万元奖励。"] * 60
topics = [label for label in get_classifier().order if label != OTHER]
profile = partial(get_classifier().profile, labels=topics)
preparer = ClausePreparer(get_tokenizer().recipe(), profile, len(topics))
source = lambda: (raw, ["标题"] * len(raw))
got = Preparation(preparer, get_tokenizer(), source, workers=1, chunk_clauses=10, min_clauses=0)
print("worker chunks", got.result().worker_chunks)
"""


def test_a_script_without_a_main_guard_is_not_run_again_by_its_workers(tmp_path: Path) -> None:
    """A plain ``spawn`` would import the script in each worker and so run it again (or fail
    on its unguarded pool); the workers start without the main module."""
    import subprocess
    import sys

    script, runs = tmp_path / "build_index.py", tmp_path / "runs.txt"
    script.write_text(SCRIPT, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script), str(runs)], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    assert runs.read_text(encoding="utf-8").count("run") == 1
    assert "worker chunks" in done.stdout and "worker chunks 0" not in done.stdout
