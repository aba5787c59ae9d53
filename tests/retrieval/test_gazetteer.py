"""The gazetteer's scanner finds exactly the names one regex of every name found (the old way,
kept here as the reference), and leaves nothing compiled in the pickled gazetteer."""

from __future__ import annotations

import pickle
import random
import re
import tomllib
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from retrieval import places
from retrieval.gazetteer import CITY, DISTRICT, PROVINCE, Gazetteer, Place
from retrieval.reader.decode import decode_policy_bytes

REPO = Path(__file__).resolve().parents[2]
FILES = sorted(
    p
    for root in (REPO / "seeds", REPO / "tests" / "retrieval" / "fixtures")
    for p in root.rglob("*")
    if p.is_file()
)


class RegexGazetteer(Gazetteer):
    """The gazetteer as it was: one alternation of every name, longest first, then each
    one-character name behind a lookbehind of the words before it and ahead of a lookahead."""

    def __init__(
        self,
        places_: Iterable[Place],
        *,
        short_before: Iterable[str] = (),
        short_after: Iterable[str] = (),
        **options: Any,
    ) -> None:
        before_words, after_words = list(short_before), list(short_after)
        super().__init__(places_, short_before=before_words, short_after=after_words, **options)
        alternatives = [re.escape(s) for s in sorted(self._surfaces, key=len, reverse=True)]
        before = "|".join(f"(?<={re.escape(w)})" for w in before_words)
        after = "|".join(re.escape(w) for w in after_words)
        for char in self._short:
            if before:
                alternatives.append(f"(?:{before}){re.escape(char)}")
            if after:
                alternatives.append(f"{re.escape(char)}(?=(?:{after}))")
        self._pattern = re.compile("|".join(alternatives)) if alternatives else None

    def _scan(self, text: str) -> Iterator[tuple[str, int, int]]:
        if self._pattern is not None:
            for match in self._pattern.finditer(text):
                yield match.group(), match.start(), match.end()


def found(gazetteer: Gazetteer, text: str) -> list[tuple[Place, str, int, int]]:
    return [(m.place, m.surface, m.start, m.end) for m in gazetteer.matches(text)]


@cache
def real() -> tuple[Gazetteer, Gazetteer, dict[str, Any]]:
    """The data files' gazetteer, built both ways (and the parsed places file)."""
    data = tomllib.loads(places.PLACES_FILE.read_text(encoding="utf-8"))
    divisions = places._divisions(places.DIVISIONS_FILE, data["suffixes"])
    frequencies = places._jieba_frequencies()
    scanner = places.parse_places(data, divisions, frequencies)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(places, "Gazetteer", RegexGazetteer)
        reference = places.parse_places(data, divisions, frequencies)
    assert isinstance(reference, RegexGazetteer) and not isinstance(scanner, RegexGazetteer)
    return scanner, reference, data


@pytest.mark.parametrize(
    "text",
    [
        "在莞落户的企业",  # one-character name after a context word
        "莞企数字化",  # ... before one, at the start of the text
        "扎根莞就业，落户穗发展",  # two-character context words on both sides
        "莞",  # alone: no context
        "来莞",  # context at the very end
        "东莞莞城",  # a name, then a town that starts with the one-character name
        "穗府办[2017]1号",
        "人民政府和政府部门",  # a short name inside common words
        "资金安排",
        "东湖高新区和肇庆高新区",  # a zone, not a district; a city's zone
        "福州市鼓楼区与南京市鼓楼区",  # a shared name resolved by the city before it
        "中山大学在广州",  # a blocked word that contains a place name
        "广州开发区黄埔区广州开发区",  # overlapping names: the longest first
        "黄埔区广州开发区",
        "广东省深圳市南山区粤海街道",
        "光明的未来；光明区的企业",
        "",
    ],
)
def test_the_scanner_finds_what_the_regex_found(text: str) -> None:
    scanner, reference, _ = real()
    assert found(scanner, text) == found(reference, text)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_same_places_in_each_file_and_each_line(path: Path) -> None:
    scanner, reference, _ = real()
    text, _ = decode_policy_bytes(path.read_bytes())
    for part in [text, *text.splitlines()]:
        assert found(scanner, part) == found(reference, part)


def test_the_same_places_in_random_texts_of_names_and_context() -> None:
    """Texts strung together from names, blocked words, pieces of names, one-character names,
    their context words and suffixes: where names overlap and touch, the two must agree."""
    scanner, reference, data = real()
    context = data["short_name_context"]
    names = sorted(scanner._surfaces)
    pieces = [
        *context["before"],
        *context["after"],
        *data["short_names"],
        *data["zone_suffixes"],
        *data["suffixes"],
        "的",
        "和",
        "企业",
        "，",
    ]
    rng = random.Random(14)
    checked = 0
    for _ in range(400):
        parts = []
        for _ in range(rng.randint(1, 12)):
            name = rng.choice(names)
            parts.append(
                rng.choice([name, name[: rng.randint(1, len(name))], name[1:], rng.choice(pieces)])
            )
        text = "".join(parts)
        assert found(scanner, text) == found(reference, text), text
        checked += bool(found(scanner, text))
    assert checked > 300  # the texts do name places


def small(cls: type[Gazetteer], before: list[str], after: list[str]) -> Gazetteer:
    """A made-up gazetteer whose names nest and overlap (长沙, 长沙县, 沙县, 沙县城, 县城)."""
    gd = Place("广东", PROVINCE, None, "广东", "广东省")
    cs = Place("长沙", CITY, "长沙", "湖南", "长沙市")
    rows = [
        gd,
        cs,
        Place("长沙县", DISTRICT, "长沙", "湖南", "长沙县"),
        Place("沙县", DISTRICT, "三明", "福建", "沙县区"),
        Place("县城", DISTRICT, "长沙", "湖南", "县城镇"),
        Place("东莞", CITY, "东莞", "广东", "东莞市"),
    ]
    return cls(
        rows,
        short_forms={"长沙": [cs], "沙县": [rows[3]], "县城": [rows[4]], "东莞": [rows[5]]},
        aliases={"沙县城": "沙县区", "莞莞": "东莞"},
        not_places=["长沙发", "沙县小吃"],
        short_names={"莞": "东莞", "粤": "广东", "沙": "长沙"},
        short_before=before,
        short_after=after,
        zone_suffixes=["高新区"],
    )


@pytest.mark.parametrize(
    ("before", "after"),
    [(["在", "落户"], ["企", "就业"]), ([], ["企"]), (["在"], []), ([], [])],
)
def test_nested_names_and_context_in_a_made_up_gazetteer(
    before: list[str], after: list[str]
) -> None:
    scanner = small(Gazetteer, before, after)
    reference = small(RegexGazetteer, before, after)
    texts = [
        "长沙县城",
        "长沙发展，沙县城，沙县小吃",
        "在沙县",
        "落户沙企",
        "在莞莞企",
        "莞企就业在粤",
        "在长沙发",
        "粤就业粤企在在莞",
        "长沙县高新区",
        "东莞",
    ]
    rng = random.Random(len(before) * 10 + len(after))
    alphabet = "长沙县城东莞粤在落户企就业小吃发的区市省高新"
    texts += ["".join(rng.choices(alphabet, k=rng.randint(1, 20))) for _ in range(500)]
    for text in texts:
        assert found(scanner, text) == found(reference, text), text


def test_a_gazetteer_without_names_finds_nothing() -> None:
    assert Gazetteer([]).matches("广东省深圳市") == []
    assert RegexGazetteer([]).matches("广东省深圳市") == []


def test_nothing_compiled_is_pickled() -> None:
    """Unpickling a compiled pattern compiles it again: a tenth of a second per process."""
    scanner, reference, _ = real()
    assert not any(isinstance(v, re.Pattern) for v in vars(scanner).values())
    assert b"_compile" not in pickle.dumps(scanner)
    assert b"_compile" in pickle.dumps(reference)  # what the check above would catch
    copy = pickle.loads(pickle.dumps(scanner))
    assert found(copy, "在莞落户的广州开发区企业") == found(scanner, "在莞落户的广州开发区企业")
