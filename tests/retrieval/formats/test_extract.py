"""PDF, Word and web pages read back into the clauses and metadata of their text version."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from retrieval.formats import Extracted, FormatError, extract, format_rank
from retrieval.reader import decode_policy_bytes, parse_policy_text, read_document, verbatim_key
from tests.fakes.published import (
    AWARDS,
    NOTICE,
    NOTICE_TABLE_AFTER,
    RUNNING_HEADER,
    document_shape,
    make_docx,
    make_html,
    make_pdf,
    make_scanned_pdf,
    verbatim_pieces,
)

ROOT = Path(__file__).resolve().parents[3]
TEXTS = sorted((ROOT / "seeds").glob("*.txt")) + sorted(
    (ROOT / "tests" / "retrieval" / "fixtures").glob("*.txt")
)
MAKERS: dict[str, Callable[[str], bytes]] = {
    ".pdf": make_pdf,
    ".docx": make_docx,
    ".html": make_html,
}


@pytest.mark.parametrize("suffix", sorted(MAKERS))
@pytest.mark.parametrize("path", TEXTS, ids=lambda path: path.name)
def test_a_published_file_reads_like_its_text(path: Path, suffix: str) -> None:
    text, _ = decode_policy_bytes(path.read_bytes())
    expected = parse_policy_text(text, source=path.name)

    extracted = extract(MAKERS[suffix](text), suffix)
    document = parse_policy_text(extracted.text, source=path.name)

    assert document_shape(document) == document_shape(expected)
    key = verbatim_key(extracted.text)
    for clause in document.clauses:
        assert all(piece in key for piece in verbatim_pieces(clause.text, clause.seams))


def test_pdf_page_chrome_never_enters_a_clause_and_pages_are_joined() -> None:
    text = (ROOT / "seeds" / "000_c9113a1d546cd539.txt").read_text(encoding="utf-8")

    extracted = extract(make_pdf(text), ".pdf")

    assert extracted.pages >= 3
    assert RUNNING_HEADER not in extracted.text
    assert all(f"- {page} -" not in extracted.text for page in range(1, extracted.pages + 1))
    assert any("页眉" in warning for warning in extracted.warnings)
    # every paragraph of the text is one line of the PDF's text, wherever the pages broke it
    assert [verbatim_key(line) for line in extracted.text.splitlines()] == [
        verbatim_key(line) for line in text.splitlines() if line.strip()
    ]


def test_a_running_header_in_body_print_is_dropped_where_it_repeats_on_every_page() -> None:
    text = (ROOT / "seeds" / "000_c9113a1d546cd539.txt").read_text(encoding="utf-8")

    extracted = extract(make_pdf(text, header_size=12, header_on_first_page=True), ".pdf")

    assert extracted.pages >= 3 and RUNNING_HEADER not in extracted.text
    expected = parse_policy_text(text, source="000.txt")
    assert document_shape(parse_policy_text(extracted.text, source="000.txt")) == document_shape(
        expected
    )


@pytest.mark.parametrize("suffix", sorted(MAKERS))
def test_each_table_row_is_a_line_under_its_heading(suffix: str) -> None:
    maker = MAKERS[suffix]
    data = maker(NOTICE, table=AWARDS, table_after=NOTICE_TABLE_AFTER)  # type: ignore[call-arg]

    extracted = extract(data, suffix)
    document = parse_policy_text(extracted.text, source=f"notice{suffix}")

    lines = extracted.text.splitlines()
    heading = lines.index("对获得市科技创新奖的企业按以下标准给予一次性奖励：")
    assert lines[heading + 1 : heading + 4] == ["奖项 | 奖金", "一等奖 | 50万元", "二等奖 | 30万元"]
    assert any("表格" in warning for warning in extracted.warnings)
    row = next(c for c in document.clauses if "一等奖" in c.text)
    assert row.section == "一、" and "50万元" in row.text
    assert verbatim_key(row.text) in verbatim_key(extracted.text)


def test_web_page_keeps_the_article_not_navigation_or_footer() -> None:
    extracted = extract(make_html(NOTICE, encoding="gbk"), ".html")

    assert extracted.text.splitlines()[0] == "东莞市工业和信息化局"
    for chrome in (
        "首页",
        "办事服务",
        "相关文章",
        "专项资金申报工作的通知",
        "版权所有",
        "var _hmt",
    ):
        assert chrome not in extracted.text
    assert "申报单位应当于每年6月30日前通过东莞市企业服务平台提交申报材料。" in extracted.text


@pytest.mark.parametrize("encoding", ["utf-8", "gbk", "gb18030"])
def test_a_page_saved_without_a_charset_is_decoded(encoding: str) -> None:
    page = make_html(NOTICE, encoding=encoding).replace(
        f'<meta charset="{encoding}">'.encode(), b""
    )

    assert extract(page, ".html").text.splitlines()[2] == "关于印发科技创新奖励办法的通知"


def test_word_page_header_is_not_body_text() -> None:
    extracted = extract(make_docx(NOTICE, header=RUNNING_HEADER), ".docx")

    assert RUNNING_HEADER not in extracted.text
    assert extracted.text.splitlines()[2] == "关于印发科技创新奖励办法的通知"


REFUSALS: dict[str, tuple[Callable[[], bytes], str, str, str]] = {
    "scanned": (make_scanned_pdf, ".pdf", "scanned", "扫描件，没有可读取的文字"),
    "encrypted": (
        lambda: make_pdf(NOTICE, password="secret"),
        ".pdf",
        "encrypted",
        "加密",
    ),
    "corrupt pdf": (lambda: make_pdf(NOTICE)[:2000], ".pdf", "corrupt", "文件损坏"),
    "not a pdf": (lambda: b"<html>not a pdf</html>", ".pdf", "corrupt", "不是有效的 PDF"),
    "corrupt docx": (lambda: make_docx(NOTICE)[:500], ".docx", "corrupt", "文件损坏"),
    "doc": (
        lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600,
        ".doc",
        "legacy_word",
        "另存为 .docx",
    ),
    "doc named docx": (
        lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600,
        ".docx",
        "legacy_word",
        "另存为 .docx",
    ),
    "wps": (lambda: b"\xd0\xcf\x11\xe0" + b"\x00" * 100, ".wps", "legacy_word", ".wps"),
    "page without article": (
        lambda: (
            "<html><body><nav>政务公开</nav><ul><li><a href='/'>首页</a></li>"
            "<li><a href='/b'>办事服务</a></li></ul></body></html>".encode()
        ),
        ".html",
        "no_article",
        "找不到正文",
    ),
    "empty docx": (lambda: make_docx(""), ".docx", "no_text", "没有文字"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_unreadable_files_are_refused_with_a_chinese_reason(case: str) -> None:
    make, suffix, kind, words = REFUSALS[case]

    with pytest.raises(FormatError) as caught:
        extract(make(), suffix)

    assert caught.value.kind == kind
    assert words in caught.value.message


def test_the_reader_reads_a_pdf_file_and_names_a_refused_one(tmp_path: Path) -> None:
    good = tmp_path / "notice.pdf"
    good.write_bytes(make_pdf(NOTICE))
    scanned = tmp_path / "scan.pdf"
    scanned.write_bytes(make_scanned_pdf())

    document = read_document(good)

    assert document.doc_number == "东工信〔2024〕12号"
    assert document.encoding == "pdf" and document.text == extract(good.read_bytes(), ".pdf").text
    with pytest.raises(Exception, match="扫描件"):
        read_document(scanned)


def test_the_preferred_format_of_one_document_is_docx() -> None:
    ranked = sorted(["a.pdf", "a.html", "a.txt", "a.docx"], key=format_rank)
    assert ranked == ["a.docx", "a.txt", "a.html", "a.pdf"]


def test_extracted_is_what_the_reader_consumes() -> None:
    extracted = Extracted(text=NOTICE)
    assert parse_policy_text(extracted.text, source="x.txt").doc_number == "东工信〔2024〕12号"
