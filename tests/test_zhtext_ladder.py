"""The numbering ladder and Chinese numerals shared by the reader and the dialogue."""

import ast
from pathlib import Path

import pytest

import zhtext.ladder
from zhtext.ladder import cn_to_int, parse_marker, top_rung


@pytest.mark.parametrize(
    ("numeral", "value"),
    [("一", 1), ("十", 10), ("十二", 12), ("二十三", 23), ("一百零五", 105), ("〇", 0)],
)
def test_chinese_numerals_read_as_numbers(numeral: str, value: int) -> None:
    assert cn_to_int(numeral) == value


@pytest.mark.parametrize(
    ("line", "kind", "number", "canonical"),
    [
        ("第三章 总则", "chapter", 3, "第三章"),
        ("第十二条 本办法自发布之日起施行。", "article", 12, "第十二条"),
        ("(一)支持企业上云", "paren_cn", 1, "（一）"),
        ("１．申报条件", "digit", 1, "1."),
        ("⑵ 项目要求", "paren_digit", 2, "（2）"),
        ("二是加强服务", "inline", 2, "二是"),
    ],
)
def test_markers_are_read_and_canonicalised(
    line: str, kind: str, number: int, canonical: str
) -> None:
    marker = parse_marker(line)
    assert marker is not None
    assert (marker.kind, marker.number, marker.canonical) == (kind, number, canonical)


@pytest.mark.parametrize("line", ["3.", "第三章程", "本办法自发布之日起施行。", "二是否"])
def test_lines_without_a_marker(line: str) -> None:
    assert parse_marker(line) is None


@pytest.mark.parametrize(
    ("section", "top"),
    [
        ("一、（一）4.（2）", "一、"),
        ("第三章第十二条", "第三章"),
        ("（二）3.", "（二）"),
        ("12.（3）", "12."),
        ("", ""),
    ],
)
def test_top_rung_of_a_section_path(section: str, top: str) -> None:
    assert top_rung(section) == top


def test_ladder_imports_nothing_of_the_project() -> None:
    tree = ast.parse(Path(zhtext.ladder.__file__).read_text(encoding="utf-8"))
    imported = {
        name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in (
            [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module]
        )
        if name
    }
    assert not imported & {"retrieval", "bot", "intents"}
