"""Canned lookups in the database (SQLite and PostgreSQL): defaults from coverage, admin edits."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from bot.lookups import (
    PlaceRef,
    default_lookups,
    delete_lookup,
    ensure_lookups,
    get_lookup,
    list_lookups,
    save_lookup,
    valid_name,
)
from bot.models import BotLookup

COVERAGE = {
    "东莞": {"funding": 12, "5g": 4, "talent": 0, "loans": 3, "other": 9},
    "深圳·宝安": {"funding": 6, "5g": 0, "talent": 0, "loans": 0, "other": 2},
}


def resolve(key: str) -> PlaceRef:
    city, _, district = key.partition("·")
    return PlaceRef(name=district or city, city=city, district=district or None)


def save(engine: Engine, name: str, question: str, city: str, topic: str) -> BotLookup:
    return save_lookup(
        engine=engine, name=name, question=question, city=city, district=None, topic=topic
    )


def test_defaults_cover_each_place_and_topic_with_clauses() -> None:
    lookups = {lookup.name: lookup for lookup in default_lookups(COVERAGE, resolve)}
    assert set(lookups) == {"东莞资金扶持", "东莞5G补贴", "东莞贷款贴息", "宝安资金扶持"}
    fiveg = lookups["东莞5G补贴"]
    assert fiveg.question == "东莞5G项目有什么补贴？"
    assert (fiveg.city, fiveg.district, fiveg.topic, fiveg.is_default) == ("东莞", None, "5g", True)
    baoan = lookups["宝安资金扶持"]
    assert (baoan.city, baoan.district) == ("深圳", "宝安") and "宝安" in baoan.question
    assert all(len(f"/lookup {name}".encode()) <= 64 for name in lookups)


def test_defaults_are_created_once(db_engine: Engine) -> None:
    assert ensure_lookups(engine=db_engine, lookups=default_lookups(COVERAGE, resolve)) == 4
    assert ensure_lookups(engine=db_engine, lookups=default_lookups(COVERAGE, resolve)) == 0
    assert len(list_lookups(engine=db_engine)) == 4


def test_admin_lookups_are_saved_replaced_and_deleted(db_engine: Engine) -> None:
    save_lookup(
        engine=db_engine,
        name="我的",
        question="中山数字贷",
        city="中山",
        district=None,
        topic="loans",
    )
    again = save_lookup(
        engine=db_engine,
        name="我的",
        question="中山贴息",
        city="中山",
        district=None,
        topic="loans",
    )
    assert again.question == "中山贴息"
    stored = get_lookup(engine=db_engine, name="我的")
    assert stored is not None and stored.question == "中山贴息" and not stored.is_default
    assert delete_lookup(engine=db_engine, name="我的")
    assert get_lookup(engine=db_engine, name="我的") is None
    assert not delete_lookup(engine=db_engine, name="我的")


def test_removed_defaults_stay_removed(db_engine: Engine) -> None:
    ensure_lookups(engine=db_engine, lookups=default_lookups(COVERAGE, resolve))
    assert delete_lookup(engine=db_engine, name="东莞5G补贴")
    assert ensure_lookups(engine=db_engine, lookups=default_lookups(COVERAGE, resolve)) == 0
    assert get_lookup(engine=db_engine, name="东莞5G补贴") is None
    assert "东莞5G补贴" not in {row.name for row in list_lookups(engine=db_engine)}
    save_lookup(
        engine=db_engine,
        name="东莞5G补贴",
        question="东莞5G",
        city="东莞",
        district=None,
        topic="5g",
    )
    assert get_lookup(engine=db_engine, name="东莞5G补贴") is not None


def test_admin_lookups_are_listed_before_defaults(db_engine: Engine) -> None:
    ensure_lookups(engine=db_engine, lookups=default_lookups(COVERAGE, resolve))
    save(db_engine, "常问", "东莞5G", "东莞", "5g")
    assert list_lookups(engine=db_engine)[0].name == "常问"


def test_names_must_fit_a_button() -> None:
    assert valid_name("东莞5G补贴")
    assert not valid_name("")
    assert not valid_name("东莞 5G")
    assert not valid_name("a=b")
    assert not valid_name("长" * 19)
