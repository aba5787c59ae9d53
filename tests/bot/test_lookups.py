"""Canned lookups in the database (SQLite and PostgreSQL): defaults from coverage, admin edits,
and defaults that follow the corpus through reloads (by an admin's /reload or another process)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.answering import AnswerService
from bot.db import create_tables, make_engine
from bot.dialogue import Dialogue
from bot.lookups import (
    PlaceRef,
    default_lookups,
    delete_lookup,
    ensure_lookups,
    get_lookup,
    list_lookups,
    save_lookup,
    sync_default_lookups,
    valid_name,
)
from bot.models import BotLookup
from bot.settings import Settings
from retrieval.store import reload_corpus
from tests.fakes.collecting import CollectingChannel

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


def test_sync_follows_the_coverage_and_keeps_admin_and_hidden_lookups(db_engine: Engine) -> None:
    ensure_lookups(engine=db_engine, lookups=default_lookups(COVERAGE, resolve))
    save(db_engine, "宝安常问", "宝安区上云补贴", "深圳", "funding")
    assert delete_lookup(engine=db_engine, name="东莞贷款贴息")  # hidden by an admin
    only_dongguan = {"东莞": COVERAGE["东莞"]}
    created, removed = sync_default_lookups(
        engine=db_engine, lookups=default_lookups(only_dongguan, resolve)
    )
    assert (created, removed) == (0, 1)
    names = {row.name for row in list_lookups(engine=db_engine)}
    assert names == {"东莞资金扶持", "东莞5G补贴", "宝安常问"}, "宝安's default left with 宝安"
    back = sync_default_lookups(engine=db_engine, lookups=default_lookups(COVERAGE, resolve))
    assert back == (1, 0), "宝安 came back; the hidden 东莞贷款贴息 stays hidden"
    assert get_lookup(engine=db_engine, name="东莞贷款贴息") is None


ZHONGSHAN_SEED = "002_1815a8eff367fdb9.txt"  # the only document about 中山


@dataclass
class OwnCorpus:
    """An answer service over a copy of the seeds that a test may change and reload."""

    folder: Path
    url: str
    settings: Settings
    service: AnswerService

    @property
    def zhongshan(self) -> Path:
        return self.folder / ZHONGSHAN_SEED


@pytest.fixture
def own_corpus(tmp_path: Path, seeds_dir: Path) -> Iterator[OwnCorpus]:
    folder = tmp_path / "corpus"
    shutil.copytree(seeds_dir, folder)
    url = f"sqlite:///{tmp_path / 'corpus.db'}"
    settings = Settings(database_url=url, corpus_dir=folder, _env_file=None)
    engine = make_engine(url)
    create_tables(engine)
    yield OwnCorpus(folder, url, settings, AnswerService(engine, settings))
    engine.dispose()


async def test_lookups_follow_an_admin_reload_and_stale_admin_lookups_are_flagged(
    own_corpus: OwnCorpus, db_engine: Engine
) -> None:
    dialogue = Dialogue(own_corpus.service, db_engine, own_corpus.settings)
    admin = CollectingChannel(dialogue, user="boss", session="a", is_admin=True)
    staff = CollectingChannel(dialogue, user="helpdesk", session="h")
    await admin.say("/lookup add 中山贴息 = 中山数字贷贴息怎么申请")
    before = await staff.say("/lookup")
    assert "中山5G补贴" in before.plain_text()
    assert "/lookup 中山贴息" in [button.command for button in before.buttons]
    assert before.buttons and all(button.listed for button in before.buttons), "text lists them"

    own_corpus.zhongshan.unlink()
    assert (await admin.say("/reload")).kind == "command"

    after = await staff.say("/lookup")
    listing = after.plain_text()
    commands = [button.command for button in after.buttons]
    assert "中山贴息" in names(listing)
    assert not any(name.startswith("中山") and name != "中山贴息" for name in names(listing))
    assert "· 中山贴息：中山数字贷贴息怎么申请（已找不到相关条款" in listing, "kept, flagged"
    assert "/lookup 中山贴息" not in commands, "a lookup that finds nothing is not offered"
    assert "/lookup 东莞5G补贴" in commands
    gone = await staff.say("/lookup 中山5G补贴")
    assert "没有名为" in gone.plain_text(), "not 暂时没有收录中山的政策文件"


async def test_lookups_follow_a_reload_by_another_process(
    own_corpus: OwnCorpus, seeds_dir: Path, db_engine: Engine
) -> None:
    service = own_corpus.service
    dialogue = Dialogue(service, db_engine, own_corpus.settings)
    staff = CollectingChannel(dialogue, user="h", session="h")
    assert "中山5G补贴" in (await staff.say("/lookup")).plain_text()

    own_corpus.zhongshan.unlink()
    other = make_engine(own_corpus.url)  # `policybot reload` run by the operator elsewhere
    assert reload_corpus(engine=other, corpus_dir=own_corpus.folder).ok
    other.dispose()
    service.refresh_now()  # what the serving process does when it sees the new version

    listing = (await staff.say("/lookup")).plain_text()
    assert "中山5G补贴" not in listing and "东莞5G补贴" in listing
    own_corpus.zhongshan.write_bytes((seeds_dir / ZHONGSHAN_SEED).read_bytes())
    assert service.reload(own_corpus.folder).ok
    assert "中山5G补贴" in (await staff.say("/lookup")).plain_text(), "and come back with it"


def names(listing: str) -> list[str]:
    """Lookup names of a /lookup listing (lines ``· NAME：QUESTION``)."""
    return [line[2:].split("：", 1)[0] for line in listing.splitlines() if line.startswith("· ")]
