import random
import re

import pytest

from retrieval.search.query import get_question_kinds
from retrieval.search.scanning import scanning

# patterns of the shapes question_kinds.toml uses, and the edges of what can be listed
LISTED = [
    r"([0-9]{1,2}月[0-9]{1,2}日|[0-9]{4}年[0-9]{1,2}月|截止|前(提交|报))",
    r"[0-9]+(\.[0-9]+)?\s*(万元|万|元|%)",
    r"[0-9一二三]+\s*(个|家)",
    r"(〔|\[)[0-9]{4}(〕|\])|根据|章",
    r"a{0,2}b",
    r"(?:ab)+c|x*y",
    r"\s*(个|家)",
    r"\d+元",
    r"[-a-c\]]b",
]
UNCHANGED = [r"a*", r"x|y?", r"^abc", r"(?i)abc", r".b", r"[^a]b", r"(?x) a b", r"\bab", r"(a)\1"]
ALPHABET = list("0123456789一二三万元个家月日年截止前提交报根据章〔〕[].%- \nabcxy")


def random_texts(count: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(ALPHABET, k=rng.randint(0, 40))) for _ in range(count)]


@pytest.mark.parametrize("source", LISTED)
def test_a_listed_pattern_is_led_by_its_first_characters_and_finds_what_it_found(
    source: str,
) -> None:
    pattern = re.compile(source)
    led = scanning(pattern)
    assert led.pattern != source and led.pattern.startswith("[")
    for text in random_texts(3000):
        found = pattern.search(text)
        mine = led.search(text)
        assert bool(mine) == bool(found), text
        if found:  # where the first match starts, too
            assert mine is not None and mine.start() == found.start()


@pytest.mark.parametrize("source", UNCHANGED)
def test_a_pattern_whose_first_characters_cannot_be_listed_is_left_as_it_is(source: str) -> None:
    pattern = re.compile(source)
    assert scanning(pattern) is pattern


def test_the_question_kinds_masks_are_those_of_their_patterns() -> None:
    kinds = get_question_kinds()
    texts = [
        *random_texts(2000, seed=9),
        "请于2021年5月10日前提交申报材料",
        "联系电话：0769-22830000",
        "给予最高不超过100万元的补贴",
        "东工信函〔2021〕134号 自发布之日起施行",
        "",
    ]
    masks = kinds.masks(texts)
    for row, pattern in enumerate(kinds.patterns.values()):
        assert masks[row].tolist() == [bool(pattern.search(text)) for text in texts]
    assert masks[:, -5:-1].any(axis=0).all()  # each real clause matches some kind
