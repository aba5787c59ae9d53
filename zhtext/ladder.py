"""Chinese numerals and the numbering ladder of policy documents (第一章, 第三条, 一、, （一）, 1.,
（1）, ①, 一是 …): used by the reader to split a document into clauses and by the dialogue to
name a clause's top-level item. Imports nothing of the project, so either can use it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

CN_DIGITS = "〇○零一二三四五六七八九"
CN_DIGIT_VALUES = {"〇": 0, "○": 0, "零": 0} | {c: i for i, c in enumerate("一二三四五六七八九", 1)}
CN_NUMERAL = "一二三四五六七八九十百零〇"

NUM = f"[{CN_NUMERAL}]{{1,4}}"
DIGITS = "[0-9０-９]{1,3}"
MARKERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("chapter", re.compile(rf"^第\s*({NUM}|{DIGITS})\s*章(?![程])\s*")),
    ("part", re.compile(rf"^第\s*({NUM}|{DIGITS})\s*节\s*")),
    ("article", re.compile(rf"^第\s*({NUM}|{DIGITS})\s*条(?![件款例目])\s*")),
    ("paren_cn", re.compile(rf"^[（(]\s*({NUM})\s*[)）]\s*[、.．]?\s*")),
    ("paren_digit", re.compile(rf"^[（(]\s*({DIGITS})\s*[)）]\s*[、.．]?\s*")),
    ("paren_digit", re.compile(r"^([⑴-⒇])\s*")),
    ("cn", re.compile(rf"^({NUM})\s*[、．.]\s*")),
    ("digit", re.compile(rf"^({DIGITS})\s*[.．、](?![0-9０-９])\s*")),
    ("circled", re.compile(r"^([①-⑳])\s*")),
    ("inline", re.compile(r"^([一二三四五六七八九十]{1,3})是(?![否不])")),
)
HEADING_KINDS = frozenset({"chapter", "part"})  # always headings
OWNING_KINDS = frozenset({"article"})  # own every paragraph until the next one
INLINE_MARK = re.compile(r"([一二三四五六七八九十]{1,3})是(?![否不])")


@dataclass(frozen=True, slots=True)
class Marker:
    kind: str
    number: int
    canonical: str
    rest: str


def cn_to_int(numeral: str) -> int:
    """一 → 1, 十二 → 12, 二十三 → 23, 一百零五 → 105 (small numbers, as numbering uses)."""
    values = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "○": 0}
    total, current = 0, 0
    for char in numeral:
        if char == "百":
            total += (current or 1) * 100
            current = 0
        elif char == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = current * 10 + values.get(char, 0) if current else values.get(char, 0)
    return total + current


def parse_marker(text: str) -> Marker | None:
    """The numbering marker ``text`` opens with, its number and its canonical spelling
    (``(一)`` → ``（一）``, ``１．`` → ``1.``), or None for an unnumbered line."""
    for kind, pattern in MARKERS:
        match = pattern.match(text)
        if not match:
            continue
        raw = match.group(1)
        rest = text[match.end() :]
        if kind in {"paren_digit"} and raw in "⑴⑵⑶⑷⑸⑹⑺⑻⑼⑽⑾⑿⒀⒁⒂⒃⒄⒅⒆⒇":
            number = ord(raw) - ord("⑴") + 1
        elif kind == "circled":
            number = ord(raw) - ord("①") + 1
        elif raw[0] in "0123456789０１２３４５６７８９":
            number = int(unicodedata.normalize("NFKC", raw))
        else:
            number = cn_to_int(raw)
        canonical = {
            "chapter": f"第{raw}章",
            "part": f"第{raw}节",
            "article": f"第{raw}条",
            "paren_cn": f"（{raw}）",
            "paren_digit": f"（{number}）",
            "cn": f"{raw}、",
            "digit": f"{number}.",
            "circled": raw,
            "inline": f"{raw}是",
        }[kind]
        if kind == "digit" and not rest.strip():
            continue  # a bare number ("3.") is a page or table cell, not an item
        return Marker(kind, number, canonical, rest)
    return None


INT_TO_CN = {  # 1 → 一, 12 → 十二: the numeral of an inline item (一是, 二是 …)
    i: n for i, n in enumerate("零一二三四五六七八九十", start=0)
} | {10 + i: "十" + n for i, n in enumerate("一二三四五六七八九", start=1)}

_TOP_RUNG = re.compile(  # the first rung of a section path
    rf"^(第[{CN_NUMERAL}]+[章节条]|[一二三四五六七八九十百]+、"
    r"|（[一二三四五六七八九十]+）|\d+[.．、]|（\d+）)"
)


def top_rung(section: str) -> str:
    """The first rung of a section path: ``一、`` of ``一、（一）4.（2）``."""
    match = _TOP_RUNG.match(section)
    return match.group(0) if match else section
