"""A second serving process picks up the corpus version's index without tokenising again: on
the same machine it maps the index files the first one left, on another it reads the parts
the first one stored in the database."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from bot.answering import AnswerService
from bot.settings import Settings

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
