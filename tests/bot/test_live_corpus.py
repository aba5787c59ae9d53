"""The live index of a process: a version replaced while it was being read is not a failure."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

import bot.live_corpus as live_corpus
from bot.live_corpus import LiveIndex
from bot.settings import Settings
from intents import get_classifier
from retrieval.store import LiveCorpus, reload_corpus
from retrieval.tokenize import get_tokenizer


def test_a_reload_between_reading_a_version_and_its_clauses_gives_the_new_version(
    db_engine: Engine,
    database_url: str,
    seeds_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    corpus_dir = tmp_path / "corpus"
    shutil.copytree(seeds_dir, corpus_dir)
    first = reload_corpus(engine=db_engine, corpus_dir=corpus_dir).version
    real = live_corpus.ensure_corpus

    def then_another_process_reloads(**kwargs: object) -> LiveCorpus:
        corpus = real(**kwargs)  # type: ignore[arg-type]
        added = sorted(corpus_dir.iterdir())[0]
        added.write_text(added.read_text(encoding="utf-8") + "\n本条为新增测试条款。\n", "utf-8")
        reload_corpus(engine=db_engine, corpus_dir=corpus_dir)  # drops the old version's rows
        return corpus

    monkeypatch.setattr(live_corpus, "ensure_corpus", then_another_process_reloads)
    settings = Settings(
        database_url=database_url,
        corpus_dir=corpus_dir,
        index_dir=tmp_path / "index",  # nothing mirrored: the clauses must be read
        _env_file=None,  # type: ignore[call-arg]
    )
    live = LiveIndex(db_engine, settings, tokenizer=get_tokenizer(), classifier=get_classifier())
    assert live.current.version != first
    assert any("本条为新增测试条款" in clause.text for clause in live.current.clauses)


def test_a_serving_process_rebuilds_with_workers_in_its_background_thread(
    db_engine: Engine,
    database_url: str,
    seeds_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another process reloads; this one notices, builds the new version in its refresh thread
    (worker processes spawned from that thread prepare the clauses) while the old index keeps
    answering, then swaps."""
    import threading
    import time

    from retrieval.search import prepare

    monkeypatch.setattr(prepare, "PARALLEL_MIN_CLAUSES", 0)
    monkeypatch.setattr(prepare, "CHUNK_CLAUSES", 40)
    corpus_dir = tmp_path / "corpus"
    shutil.copytree(seeds_dir, corpus_dir)
    reload_corpus(engine=db_engine, corpus_dir=corpus_dir)
    settings = Settings(
        database_url=database_url,
        corpus_dir=corpus_dir,
        index_dir=tmp_path / "index",
        corpus_check_seconds=0,
        build_workers=1,
        _env_file=None,  # type: ignore[call-arg]
    )
    live = LiveIndex(db_engine, settings, tokenizer=get_tokenizer(), classifier=get_classifier())
    old = live.current
    changed = sorted(corpus_dir.iterdir())[0]
    changed.write_text(changed.read_text(encoding="utf-8") + "\n本条为新增测试条款。\n", "utf-8")
    newer = reload_corpus(engine=db_engine, corpus_dir=corpus_dir).version  # another process
    assert live.checked() is old  # the old index answers while the new one is built
    deadline = time.monotonic() + 120
    while live.current is old and time.monotonic() < deadline:
        time.sleep(0.1)
    assert live.current.version == newer
    assert live.current.worker_chunks > 0  # a worker spawned from the refresh thread helped
    assert any("本条为新增测试条款" in clause.text for clause in live.current.clauses)
    for refresh in [t for t in threading.enumerate() if t.name == "corpus-refresh"]:
        refresh.join(timeout=30)  # it ends once the new index is live
        assert not refresh.is_alive()
