"""ClauseIndex.search: exact top-k on a small inline corpus, the way bm25s tests its ranking.

Six hand-written clauses in four documents (a city, a district, a province, national), so that
each assertion names the clause ids expected in order and what a place filter or an excluded
id must leave out. The real seeds and eval sets go through the whole path elsewhere
(tests/bot/test_answering*.py, ``policybot eval``).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pytest

from retrieval.places import load_gazetteer
from retrieval.search import TIER_NATIONAL, ClauseIndex, QueryBuilder, get_synonyms
from retrieval.store import LiveCorpus, StoredClause, StoredDocument
from retrieval.tokenize import PolicyTokenizer


def document(key: str, title: str, authority: str, **place: str) -> StoredDocument:
    return StoredDocument(
        key=key,
        doc_number=None,
        title=title,
        authority=authority,
        recipient=None,
        date=None,
        city=place.get("city"),
        district=place.get("district"),
        source=f"corpus/{key}",
        clause_count=0,
        province=place.get("province"),
        level=place["level"],
    )


DOCUMENTS = [
    document(
        "dongguan.txt",
        "东莞市制造业扶持办法",
        "东莞市工业和信息化局",
        city="东莞",
        province="广东",
        level="city",
    ),
    document(
        "nanshan.txt",
        "南山区产业发展专项资金管理办法",
        "深圳市南山区科技创新局",
        city="深圳",
        district="南山区",
        province="广东",
        level="district",
    ),
    document(
        "guangdong.txt",
        "广东省中小企业发展条例",
        "广东省人民代表大会常务委员会",
        province="广东",
        level="province",
    ),
    document("national.txt", "关于进一步支持小微企业融资的通知", "财政部", level="national"),
]
CLAUSES = [  # (id, document, text)
    ("dg-robot", "dongguan.txt", "企业购置工业机器人的，按设备投资额的10%给予补助。"),
    ("dg-hitech", "dongguan.txt", "对首次认定的高新技术企业给予30万元奖励。"),
    ("ns-hitech", "nanshan.txt", "对新认定的高新技术企业给予20万元奖励。"),
    ("ns-cloud", "nanshan.txt", "企业上云服务费用给予50%补贴。"),
    ("gd-loan", "guangdong.txt", "县级以上人民政府应当为中小企业贷款提供贴息。"),
    ("nat-loan", "national.txt", "小微企业贷款利息给予财政贴息。"),
]


@pytest.fixture(scope="module")
def tokenizer() -> PolicyTokenizer:
    return PolicyTokenizer()  # its own: an index adds its corpus's place names to it


@pytest.fixture(scope="module")
def index(tokenizer: PolicyTokenizer) -> ClauseIndex:
    clauses = [
        StoredClause(id=id_, doc_key=key, section=f"{n}.", headings=(), text=text, ordinal=n)
        for n, (id_, key, text) in enumerate(CLAUSES, start=1)
    ]
    corpus = LiveCorpus(version=1, documents={d.key: d for d in DOCUMENTS}, clauses=clauses)
    return ClauseIndex(corpus, tokenizer=tokenizer)  # no topics: no intent boost to reason about


@pytest.fixture(scope="module")
def queries(tokenizer: PolicyTokenizer) -> QueryBuilder:
    return QueryBuilder(tokenizer, get_synonyms())


def ranked(
    index: ClauseIndex,
    queries: QueryBuilder,
    question: str,
    *,
    k: int = 6,
    tiers: np.ndarray | None = None,
    exclude_ids: Collection[str] = (),
) -> list[str]:
    hits = index.search(queries.build(question), k=k, tiers=tiers, exclude_ids=exclude_ids)
    return [hit.clause.id for hit in hits]


def place_tiers(index: ClauseIndex, name: str) -> np.ndarray:
    places = load_gazetteer().find(name)
    assert places, name
    tiers = index.tiers(places)
    assert tiers is not None
    return tiers


def test_clauses_with_every_word_come_first_the_shorter_first(
    index: ClauseIndex, queries: QueryBuilder
) -> None:
    assert ranked(index, queries, "高新技术企业奖励", k=2) == ["ns-hitech", "dg-hitech"]


def test_a_clause_with_all_the_words_outranks_its_neighbours(
    index: ClauseIndex, queries: QueryBuilder
) -> None:
    # 工业 is also in dg-hitech's issuer (东莞市工业和信息化局), 补助 a synonym of its 奖励
    assert ranked(index, queries, "工业机器人补助", k=2) == ["dg-robot", "dg-hitech"]


def test_hits_carry_their_clause_document_and_matched_words(
    index: ClauseIndex, queries: QueryBuilder
) -> None:
    hits = index.search(queries.build("工业机器人补助"), k=1)
    assert len(hits) == 1
    best = hits[0]
    assert (best.clause.id, best.document.key) == ("dg-robot", "dongguan.txt")
    assert best.matched == ("工业", "机器人", "补助")
    assert best.coverage == pytest.approx(1.0)
    assert best.tier == 1.0 and best.score > 0 and best.bm25 > 0


def test_k_bounds_the_hits(index: ClauseIndex, queries: QueryBuilder) -> None:
    assert ranked(index, queries, "高新技术企业奖励", k=1) == ["ns-hitech"]
    assert ranked(index, queries, "高新技术企业奖励", k=0) == []
    assert len(ranked(index, queries, "高新技术企业奖励", k=100)) == len(CLAUSES)


def test_words_no_clause_has_find_nothing(index: ClauseIndex, queries: QueryBuilder) -> None:
    assert ranked(index, queries, "火箭发射") == []


def test_a_district_filter_keeps_its_district_province_and_national_documents(
    index: ClauseIndex, queries: QueryBuilder
) -> None:
    tiers = place_tiers(index, "南山")
    found = ranked(index, queries, "南山高新技术企业奖励多少", tiers=tiers)
    assert found[:2] == ["ns-hitech", "ns-cloud"]  # 南山's own clauses first
    assert set(found) == {"ns-hitech", "ns-cloud", "gd-loan", "nat-loan"}  # not 东莞's


def test_a_place_without_documents_leaves_only_national_ones(
    index: ClauseIndex, queries: QueryBuilder
) -> None:
    tiers = place_tiers(index, "杭州")
    hits = index.search(queries.build("贷款贴息"), k=6, tiers=tiers)
    assert [(hit.clause.id, hit.tier) for hit in hits] == [("nat-loan", TIER_NATIONAL)]


def test_a_province_filter_ranks_its_own_document_above_national_ones(
    index: ClauseIndex, queries: QueryBuilder
) -> None:
    tiers = place_tiers(index, "广东")
    found = ranked(index, queries, "广东贷款贴息", tiers=tiers)
    assert found == ["gd-loan", "nat-loan", "ns-cloud"]  # 东莞's clauses share no word


def test_excluded_ids_are_left_out_and_the_rest_keep_their_order(
    index: ClauseIndex, queries: QueryBuilder
) -> None:
    everything = ranked(index, queries, "高新技术企业奖励")
    assert everything[0] == "ns-hitech"
    rest = ranked(index, queries, "高新技术企业奖励", exclude_ids={"ns-hitech", "no-such-id"})
    assert rest == everything[1:]


def test_an_empty_corpus_finds_nothing(tokenizer: PolicyTokenizer, queries: QueryBuilder) -> None:
    empty = ClauseIndex(LiveCorpus(version=2, documents={}, clauses=[]), tokenizer=tokenizer)
    assert empty.search(queries.build("贷款贴息"), k=3) == []
