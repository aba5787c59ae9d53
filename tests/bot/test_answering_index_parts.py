"""A second serving process picks up the corpus version's index without tokenising again: on
the same machine it maps the index files the first one left, on another it reads the parts
the first one stored in the database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.engine import Engine

from bot.answering import AnswerService
from bot.settings import Settings
from retrieval.store.tables import index_part_table

QUESTION = "东莞5G项目能拿多少补贴？"
PARTS = {"clauses", "texts", "words", "chars", "titles", "openings", "kinds", "intents"}


def test_a_second_service_maps_or_loads_the_stored_index(
    db_engine: Engine, database_url: str, seeds_dir: Path, tmp_path: Path
) -> None:
    def service(index_dir: Path) -> AnswerService:
        settings = Settings(
            database_url=database_url,
            corpus_dir=seeds_dir,
            index_dir=index_dir,
            _env_file=None,  # type: ignore[call-arg]
        )
        return AnswerService(db_engine, settings)

    first = service(tmp_path / "here")
    assert set(first.index_parts.built) == PARTS
    first.index_parts.finish()  # the parts are stored in the background; another host needs them
    same_machine = service(tmp_path / "here")
    assert same_machine.index_parts.built == same_machine.index_parts.loaded == []
    assert set(same_machine.index_parts.mapped) == PARTS
    other_machine = service(tmp_path / "elsewhere")
    assert other_machine.index_parts.built == []
    assert set(other_machine.index_parts.loaded) == PARTS
    assert list((tmp_path / "elsewhere").rglob("*.part"))  # mirrored for its next process

    answered = [s.answer(QUESTION) for s in (first, same_machine, other_machine)]
    assert not answered[0].abstained
    for later in answered[1:]:
        assert [a.passage_id for a in later.answers] == [a.passage_id for a in answered[0].answers]
        assert [a.score for a in later.answers] == [a.score for a in answered[0].answers]
        assert [a.excerpt for a in later.answers] == [a.excerpt for a in answered[0].answers]


def test_build_workers_prepare_the_clauses_of_a_first_build_and_answer_alike(
    db_engine: Engine,
    database_url: str,
    seeds_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """BUILD_WORKERS reaches the build (the service's topic profile goes to a worker process),
    and what the workers prepared answers as what one process prepared."""
    from retrieval.search import prepare

    monkeypatch.setattr(prepare, "PARALLEL_MIN_CLAUSES", 0)  # the seeds are a small corpus
    monkeypatch.setattr(prepare, "CHUNK_CLAUSES", 30)

    def service(workers: str, index_dir: Path) -> AnswerService:
        monkeypatch.setenv("BUILD_WORKERS", workers)
        settings = Settings(
            database_url=database_url,
            corpus_dir=seeds_dir,
            index_dir=index_dir,
            _env_file=None,  # type: ignore[call-arg]
        )
        assert settings.build_workers == int(workers)
        built = AnswerService(db_engine, settings)
        assert set(built.index_parts.built) == PARTS
        return built

    with_worker = service("1", tmp_path / "a")
    assert with_worker.index.worker_chunks > 0
    with_worker.index_parts.finish()  # stored in the background: wait for it, then drop it
    with db_engine.begin() as connection:  # nothing stored: the next service builds again
        connection.execute(delete(index_part_table))
    alone = service("0", tmp_path / "b")
    assert alone.index.worker_chunks == 0
    for question in (QUESTION, "数字贷贴息怎么申请", "人才补贴有哪些"):
        ours, theirs = with_worker.answer(question), alone.answer(question)
        assert [(a.passage_id, a.score, a.excerpt) for a in ours.answers] == [
            (a.passage_id, a.score, a.excerpt) for a in theirs.answers
        ]
