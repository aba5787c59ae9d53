"""A second serving process picks up the corpus version's index without tokenising again."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from bot.answering import AnswerService
from bot.settings import Settings

QUESTION = "东莞5G项目能拿多少补贴？"


def test_a_second_service_loads_the_stored_index(
    db_engine: Engine, database_url: str, seeds_dir: Path
) -> None:
    settings = Settings(database_url=database_url, corpus_dir=seeds_dir, _env_file=None)
    first = AnswerService(db_engine, settings)
    assert {"texts", "words", "chars", "kinds", "intents"} <= set(first.index_parts.built)
    second = AnswerService(db_engine, settings)
    assert second.index_parts.built == []
    assert set(second.index_parts.loaded) == set(first.index_parts.built)
    answered = [service.answer(QUESTION) for service in (first, second)]
    assert not answered[0].abstained
    assert [a.passage_id for a in answered[1].answers] == [
        a.passage_id for a in answered[0].answers
    ]
    assert [a.score for a in answered[1].answers] == [a.score for a in answered[0].answers]
