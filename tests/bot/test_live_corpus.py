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
