"""Tokenising questions and clauses: numbers with units, domain words, stop words."""

from __future__ import annotations

import pytest

from retrieval.tokenize import get_tokenizer
from zhtext.normalize import normalize_text, strip_white


@pytest.fixture(scope="module")
def tokens():
    return get_tokenizer().tokens


def test_full_width_and_traditional_are_normalised() -> None:
    assert normalize_text("東莞５Ｇ項目補貼？") == "东莞5g项目补贴?"
    assert normalize_text("最高 500 万") == "最高500万"
    assert normalize_text("iPhone   5G 手机") == "iphone 5g手机"


def test_strip_white_removes_every_space() -> None:
    assert strip_white(" 每个项目\n最高 500 万 ") == "每个项目最高500万"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("每个项目最高 500 万", "500万"),
        ("给予500万元资助", "500万"),
        ("按投入金额的 25% 给予资助", "25%"),
        ("16.26亿元", "16.26亿"),
        ("东莞５Ｇ基站", "5g"),
        ("特聘人才A档200万元", "a档"),
        ("贴息配套比例1:0.2", "1:0.2"),
    ],
)
def test_numbers_with_units_stay_whole(tokens, text: str, expected: str) -> None:
    assert expected in tokens(text)


def test_domain_dictionary_keeps_policy_terms(tokens) -> None:
    assert "上云上平台" in tokens("省上云上平台服务券奖补")
    assert "融资租赁" in tokens("企业通过融资租赁购买设备")
    assert "风险补偿" in tokens("实施贷款风险补偿")


def test_stop_words_go_but_negations_and_limits_stay(tokens) -> None:
    found = tokens("的了吗呢什么 不 以上 除外 最高")
    assert "的" not in found and "什么" not in found
    assert {"不", "以上", "除外", "最高"} <= set(found)


def test_same_words_in_question_and_clause(tokens) -> None:
    question = set(tokens("東莞5G項目能拿多少補貼？"))
    clause = set(tokens("对东莞市5G融合应用项目给予补贴"))
    assert {"5g", "补贴"} <= question & clause
