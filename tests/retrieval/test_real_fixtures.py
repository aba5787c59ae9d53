"""The reader on small real pages of many places and levels (tests/retrieval/fixtures/real).

Each page is an excerpt of a public policy page as it was published (banners, breadcrumbs,
traditional characters, pinyin mojibake, Big5); ``manifest.jsonl`` holds its true metadata.
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from retrieval.reader import read_document, verbatim_key
from retrieval.types import ParsedDocument
from zhtext.normalize import normalize_text

REAL = Path(__file__).parent / "fixtures" / "real"
MANIFEST = [json.loads(line) for line in (REAL / "manifest.jsonl").read_text().splitlines()]
BY_KIND = {row["kind"]: row for row in MANIFEST}
# What the pages themselves do not say, so the reader cannot know it (the manifest's author
# looked it up): a page that names no place; a 文号 printed broken (广安区府办发〔202026).
UNKNOWABLE = {
    "no_place": {"level", "place"},
    "articles_with_gap": {"doc_number"},
}


def same(a: str | None, b: str | None) -> bool:
    """Equal once normalised (simplified, half-width, no spaces): as people compare them."""
    if a is None or b is None:
        return a is b
    return "".join(normalize_text(a).split()) == "".join(normalize_text(b).split())


@pytest.fixture(scope="module")
def documents() -> dict[str, ParsedDocument]:
    return {row["file"]: read_document(REAL / row["file"]) for row in MANIFEST}


def ids(row: dict[str, Any]) -> str:
    return str(row["kind"])


@pytest.mark.parametrize("row", MANIFEST, ids=ids)
def test_doc_number_as_printed(documents: dict[str, ParsedDocument], row: dict[str, Any]) -> None:
    document = documents[row["file"]]
    if "doc_number" in UNKNOWABLE.get(row["kind"], ()):
        assert document.doc_number is None and "doc_number" in document.missing
        return
    assert document.doc_number == row["doc_number"]  # stored as printed, 號 and all


@pytest.mark.parametrize("row", MANIFEST, ids=ids)
def test_title_is_the_documents_own(
    documents: dict[str, ParsedDocument], row: dict[str, Any]
) -> None:
    document = documents[row["file"]]
    assert row["file"].split(".")[0] not in document.title  # never the file name
    if row["title"] is None:  # a page with no title: none, or a heading-like line of its own
        assert document.title_source in {"none", "heading", "body"}
        assert len(document.title) <= 90
    else:
        assert same(document.title, row["title"]), document.title


@pytest.mark.parametrize("row", MANIFEST, ids=ids)
def test_level_and_place(documents: dict[str, ParsedDocument], row: dict[str, Any]) -> None:
    document = documents[row["file"]]
    if "place" in UNKNOWABLE.get(row["kind"], ()):
        assert document.level is None and "place" in document.missing
        assert (document.province, document.city, document.district) == (None, None, None)
        return
    assert document.level == row["level"]
    assert (document.province, document.city, document.district) == (
        row["province"],
        row["city"],
        row["district"],
    )


@pytest.mark.parametrize("row", MANIFEST, ids=ids)
def test_every_clause_is_verbatim_against_the_file(
    documents: dict[str, ParsedDocument], row: dict[str, Any]
) -> None:
    document = documents[row["file"]]
    source = verbatim_key(document.text)
    assert document.clauses
    for clause in document.clauses:
        bounds = [0, *clause.seams, len(clause.text)]
        for start, end in pairwise(bounds):
            assert verbatim_key(clause.text[start:end]) in source, clause.text


@pytest.mark.parametrize("row", MANIFEST, ids=ids)
def test_the_answering_sentence_is_in_one_clause(
    documents: dict[str, ParsedDocument], row: dict[str, Any]
) -> None:
    """The span that answers the page's question is quoted whole by one clause."""
    span = verbatim_key(row["span"])
    assert any(span in verbatim_key(c.text) for c in documents[row["file"]].clauses)


def test_big5_page_is_read_in_its_own_characters(documents: dict[str, ParsedDocument]) -> None:
    row = BY_KIND["big5"]
    document = documents[row["file"]]
    assert document.encoding == "big5"
    assert document.title == row["title"]  # traditional, as printed
    assert document.district == "嵊州市"  # read from the simplified view


def test_pinyin_mojibake_stays_in_quotes_and_leaves_matching(
    documents: dict[str, ParsedDocument],
) -> None:
    row = BY_KIND["mojibake_pinyin"]
    document = documents[row["file"]]
    assert "(yè)" in document.title  # quoted as printed
    assert document.city == "扬州"  # 揚(yáng)州 read as 扬州
    assert "扬州市工业设计中心" in normalize_text(document.title)


def test_articles_keep_their_printed_numbers(documents: dict[str, ParsedDocument]) -> None:
    """第三条 is left out of the excerpt: 第四条 is cited as 第四条, not as the third article."""
    document = documents[BY_KIND["articles_with_gap"]["file"]]
    sections = [c.section for c in document.clauses if c.section]
    assert sections[:3] == ["第一章第一条", "第一章第二条", "第一章第四条"]


def test_a_site_banner_before_the_number_does_not_hide_it(
    documents: dict[str, ParsedDocument],
) -> None:
    document = documents[BY_KIND["banner_before_doc_number"]["file"]]
    assert document.doc_number == "川经信财资〔2023〕28号"
    assert document.clauses
    assert not any("当前位置" in c.text or "放大字体" in c.text for c in document.clauses)
