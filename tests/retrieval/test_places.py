"""The gazetteer: which places a text names, and which city they belong to."""

from __future__ import annotations

import pytest

from retrieval.places import Gazetteer, Place, load_gazetteer

GUANGDONG = [
    "东莞", "中山", "广州", "深圳", "佛山", "珠海", "惠州", "江门", "汕头", "湛江", "肇庆",
    "清远", "韶关", "梅州", "河源", "阳江", "茂名", "汕尾", "潮州", "揭阳", "云浮",
]  # fmt: skip


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return load_gazetteer()


def names(places: list[Place]) -> list[tuple[str, str, str]]:
    return [(p.name, p.kind, p.city) for p in places]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("东莞市长安镇的模具企业", [("东莞", "city", "东莞"), ("长安镇", "town", "东莞")]),
        ("宝安区上云上平台有什么补贴", [("宝安", "district", "深圳")]),
        ("松山湖和虎门有什么政策", [("松山湖", "district", "东莞"), ("虎门", "town", "东莞")]),
        (
            "中山火炬开发区和小榄",
            [
                ("中山", "city", "中山"),
                ("火炬开发区", "district", "中山"),
                ("小榄", "town", "中山"),
            ],
        ),
        ("南头镇的企业", [("南头", "town", "中山")]),
        ("番禺区、天河区", [("番禺", "district", "广州"), ("天河", "district", "广州")]),
        ("前海和南山", [("前海", "district", "深圳"), ("南山", "district", "深圳")]),
        ("鹏城的补贴", [("深圳", "city", "深圳")]),
        ("北京中关村", [("北京", "city", "北京"), ("中关村", "district", "北京")]),
        ("浦东新区的政策", [("浦东", "district", "上海")]),
        ("杭州有没有5G补贴", [("杭州", "city", "杭州")]),
        ("浙江省的政策", [("浙江", "province", None)]),
        ("广东省的政策", [("广东", "province", None)]),
        ("福州市鼓楼区", [("福州", "city", "福州"), ("鼓楼区", "district", "福州")]),
        ("南京市鼓楼区", [("南京", "city", "南京"), ("鼓楼区", "district", "南京")]),
        ("青岛城阳区", [("青岛", "city", "青岛"), ("城阳", "district", "青岛")]),
        ("长沙县首次入规", [("长沙县", "district", "长沙")]),
        ("人民政府和政府部门资金安排", []),
    ],
)
def test_find(gazetteer: Gazetteer, text: str, expected: list[tuple[str, str, str]]) -> None:
    assert names(gazetteer.find(text)) == expected


def test_each_place_once_in_order_of_first_mention(gazetteer: Gazetteer) -> None:
    found = gazetteer.find("深圳市宝安区和东莞，还有深圳")
    assert [p.name for p in found] == ["深圳", "宝安", "东莞"]


def test_longest_match_first(gazetteer: Gazetteer) -> None:
    matches = gazetteer.matches("东莞市工业和信息化局")
    assert [(m.surface, m.start, m.end) for m in matches] == [("东莞市", 0, 3)]


@pytest.mark.parametrize(
    "text",
    [
        "深入推进数字化转型",  # 深 is no alias of 深圳
        "中山大学的研究团队",  # a university, not the city
        "孙中山先生",
        "光明日报报道",  # 光明 counts only as 光明区
        "新兴产业发展",  # 新兴 counts only as 新兴县
        "和平发展",
        "蓝天白云",
        "在京东开店",
    ],
)
def test_words_that_only_contain_a_place_name(gazetteer: Gazetteer, text: str) -> None:
    assert gazetteer.find(text) == []


def test_strict_names_count_with_their_suffix(gazetteer: Gazetteer) -> None:
    assert names(gazetteer.find("光明区的企业")) == [("光明区", "district", "深圳")]
    assert names(gazetteer.find("新兴县")) == [("新兴县", "district", "云浮")]
    assert gazetteer.find("光明的未来") == []


def test_one_character_names_only_in_context(gazetteer: Gazetteer) -> None:
    assert [p.name for p in gazetteer.find("在莞落户的企业")] == ["东莞"]
    assert [p.name for p in gazetteer.find("莞企数字化")] == ["东莞"]
    assert [p.name for p in gazetteer.find("来穗创业")] == ["广州"]
    assert names(gazetteer.find("东莞莞城")) == [
        ("东莞", "city", "东莞"),
        ("莞城", "district", "东莞"),
    ]
    assert gazetteer.find("穗府办[2017]1号") == []


@pytest.mark.parametrize(
    ("name", "city"),
    [
        ("宝安", "深圳"),
        ("宝安区", "深圳"),
        ("东莞市", "东莞"),
        ("东莞", "东莞"),
        ("长安镇", "东莞"),
        ("火炬开发区", "中山"),
        ("光明区", "深圳"),
        ("光明", None),
        ("鹏城", "深圳"),
        ("中关村", "北京"),
        ("浙江", None),
        ("火星", None),
    ],
)
def test_city_of(gazetteer: Gazetteer, name: str, city: str | None) -> None:
    assert gazetteer.city_of(name) == city


def test_cities(gazetteer: Gazetteer) -> None:
    cities = gazetteer.cities()
    assert set(cities[: len(GUANGDONG)]) == set(GUANGDONG)  # the preferred province first
    for city in ("北京", "上海", "天津", "重庆", "杭州", "苏州", "南京", "成都", "武汉", "西安"):
        assert city in cities
    assert "浙江" not in cities


def test_districts_and_towns_of_the_corpus_cities(gazetteer: Gazetteer) -> None:
    dongguan = {p.name for p in gazetteer.places_of("东莞")}
    assert {
        "长安镇",
        "松山湖",
        "虎门",
        "厚街",
        "塘厦",
        "常平",
        "大朗",
        "南城",
        "东城",
        "莞城",
    } <= dongguan
    assert {"南头", "小榄", "火炬开发区", "石岐"} <= {p.name for p in gazetteer.places_of("中山")}
    guangzhou = {
        "天河",
        "黄埔",
        "番禺",
        "海珠",
        "越秀",
        "白云区",  # 白云 alone is an ordinary word (白云 in the sky)
        "南沙",
        "花都",
        "增城",
        "从化",
        "荔湾",
    }
    assert guangzhou <= {p.name for p in gazetteer.places_of("广州")}
    shenzhen = {
        "宝安",
        "龙华",
        "南山",
        "福田",
        "罗湖",
        "龙岗",
        "光明区",  # 光明 and 大鹏 are ordinary words: named in full
        "坪山",
        "盐田",
        "大鹏新区",  # a new area the dataset lacks (places.toml), named in full
        "前海",
    }
    assert shenzhen <= {p.name for p in gazetteer.places_of("深圳")}


def test_gazetteer_is_loaded_once() -> None:
    assert load_gazetteer() is load_gazetteer()


def test_places_have_levels_and_provinces(gazetteer: Gazetteer) -> None:
    nanshan = gazetteer.lookup("南山区")
    assert nanshan is not None and (nanshan.level, nanshan.province, nanshan.city) == (
        "district",
        "广东",
        "深圳",
    )
    tianjin = gazetteer.lookup("天津")
    assert tianjin is not None and (tianjin.kind, tianjin.province) == ("city", "天津")
    guangxi = gazetteer.lookup("广西壮族自治区")
    assert guangxi is not None and (guangxi.name, guangxi.kind) == ("广西", "province")
    assert nanshan.within(gazetteer.lookup("深圳")) and nanshan.within(gazetteer.lookup("广东"))
