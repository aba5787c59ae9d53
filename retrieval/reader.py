"""Reading one policy file into a document: its metadata and its clauses, verbatim.

Policy files come as text extracted from PDFs and web pages, in UTF-8 or GB18030/GBK, some in
Markdown. The reader works on the kind of document, not on particular files:

1. Decode (:func:`decode_policy_bytes`); refuse empty, binary and undecodable files.
2. Clean line by line: Markdown markup goes, and so do the page chrome and administrative lines
   listed in ``data/reader.toml`` (breadcrumbs, 字号, 发布日期, footers, 抄送, 联系人 …).
   Metadata that web pages put in such lines (文号, 成文日期, 发布日期) is noted first.
3. Read the header (issuing body, 文号, title, the salutation naming the recipient) and the
   signature (body and signing date) off the lines; neither becomes a clause.
4. Repair hard line breaks: a break is real only where a sentence ends, a numbered item or
   heading starts, or (in text wrapped at a fixed width) where a line stops short.
5. Split the body along the document's own numbering ladder into clauses.

Section paths are the canonical markers of the items above a clause, concatenated:
``一、（一）4.（2）`` (half-width ``(一)``, ``1、`` and ``１．`` are written ``（一）``, ``1.``);
regulations give ``第三章第十二条`` (chapter and section included when the document has them);
inline enumerations add ``一是``/``二是``. Paragraphs before the first numbered item (the
preamble) and courtesy paragraphs after the last one have the section ``""``.

A clause's text is its paragraph without the item's own marker (the section carries it);
an item whose lead sentence is its title (``（一）出台指导性文件。出台《…》``) keeps both.
A heading alone is no clause: its title goes into ``headings`` of the clauses below it.
No clause is longer than :data:`MAX_CLAUSE_CHARS`; longer paragraphs are split at sentence ends.

Everything kept is verbatim: ``verbatim_key(clause.text) in verbatim_key(document.text)``.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import math
import re
import statistics
import tomllib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from itertools import pairwise
from pathlib import Path

from retrieval import formats
from retrieval.docplace import document_place
from retrieval.messages import message
from retrieval.normalize import to_simplified
from retrieval.places import PROVINCE, Gazetteer, load_gazetteer
from retrieval.types import DocumentError, ParsedClause, ParsedDocument
from retrieval.view import Restorer, simplified_view

__all__ = [
    "MAX_CLAUSE_CHARS",
    "decode_policy_bytes",
    "parse_policy_text",
    "read_document",
    "verbatim_key",
]

RULES_FILE = Path(__file__).parent / "data" / "reader.toml"

MAX_CLAUSE_CHARS = 600  # longer paragraphs are split at sentence ends
HEADING_MAX_CHARS = 60  # a numbered line longer than this is text, not a heading
LEAD_TITLE_MAX_CHARS = 40  # the lead sentence of an item counts as its title up to this length
HEADER_MAX_LINES = 12  # the header (body, 文号, title) is found within the first lines
LIST_ITEM_MAX_CHARS = 60  # items of a list (…如下：（一）…（二）…) this short join its opening line
MIN_INLINE_PART_CHARS = 30  # 一是…二是… parts shorter than this on average stay together
SIGNATURE_TAIL_LINES = 4  # a bare date line this near the end is the signing date
LABEL_MAX_CHARS = 16  # a line this short ending in a colon labels the next (申报时间:)
TITLE_TAIL_MIN_CHARS = 8  # a complete title after a colon is taken alone from this length
TITLE_RESIDUE_MAX_CHARS = 8  # stray words after a title's last word (…的公告本次征集开始)
_TITLE_END = re.compile(
    r"(的通知|的公告|的通告|的意见|的函|的答复|的批复|的决定|办法|细则|方案|指南|措施|规定|政策)"
)
_ISSUER_SUFFIX = "局|厅|委员会|委|办公室|办公厅|人民政府|政府|管委会|部|署|中心"
COLUMN_LABEL_MAX_CHARS = 8  # a short line above a title with no title word is a site label
EARLY_NUMBER_CHARS = 400  # a 文号 inside text counts only this near the top
EARLY_NUMBER_PREFIX_CHARS = 10  # 川经信财资: an issuer's prefix, not a sentence
FLAT_LINE_CHARS = 150  # a line this long may be a whole page flattened (see _unflatten)
MIN_POLICY_HAN_CHARS = 10  # fewer Chinese characters than this in all clauses: no policy text

_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN_CHAR = re.compile(f"[{_HAN}]")
_CN_DIGITS = "〇○零一二三四五六七八九"
_CN_DIGIT_VALUES = {"〇": 0, "○": 0, "零": 0} | {
    c: i for i, c in enumerate("一二三四五六七八九", 1)
}
_CN_NUMERAL = "一二三四五六七八九十百零〇"
_SENTENCE_END = "。！？；!?;"
_CLOSERS = "”’\"'」』）)】〕》"
_ENDS_SENTENCE = re.compile(f"[{_SENTENCE_END}:：][{re.escape(_CLOSERS)}]*$")
_HAS_SENTENCE_END = re.compile(f"[{_SENTENCE_END}]")
_WHITE = re.compile(r"\s+")
_SPACE_NEAR_WIDE = re.compile(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])")

# -- Markdown -------------------------------------------------------------------------------
_MD_HEADING = re.compile(r"^#{1,6}(?:\s+|(?=[^#\s]))(.*?)(?:\s+#+)?$")
_MD_RULE = re.compile(r"^(?:[-*_]\s*){3,}$")
_MD_QUOTE = re.compile(r"^(?:>\s?)+")
_MD_BULLET = re.compile(r"^[-*+•·]\s+")
_MD_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?$")
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)\s]*\)")
_MD_EMPHASIS = re.compile(r"\*{2,}|_{2,}|`+|~~")
_HTML_TAG = re.compile(r"</?[a-zA-Z][^>]{0,200}>")
_HTML_ENTITY = re.compile(r"&(?:nbsp|ensp|emsp);")


def _strip_inline_markup(text: str) -> str:
    """Remove inline Markdown/HTML markup: **bold**, `code`, [link](url), tags, table bars."""
    text = _MD_IMAGE.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _HTML_TAG.sub("", text)
    text = _HTML_ENTITY.sub(" ", text)
    text = _MD_EMPHASIS.sub("", text)
    return text.replace("|", " ")


def verbatim_key(text: str) -> str:
    """Text as compared for the verbatim property: markup and all white space removed.

    ``verbatim_key(clause.text)`` is a substring of ``verbatim_key(document.text)`` for every
    clause; use it (or plain white-space removal where no markup is involved) to check quotes.
    """
    return "".join(_strip_inline_markup(text).split())


# -- Decoding -------------------------------------------------------------------------------


def decode_policy_bytes(data: bytes) -> tuple[str, str]:
    """Decode a policy file's bytes: returns (text, encoding).

    UTF-8 (with or without BOM) first, then UTF-16 with a BOM, then GB18030 (a superset of GBK
    and GB2312), and Big5 when GB18030 yields implausible text. Raises ValueError with the
    reason for empty, binary (NUL bytes, control characters) and undecodable input.
    """
    if not data:
        raise ValueError(message("reader", "empty"))
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as error:
            reason = message("reader", "bad_utf16", error=error.reason)
            raise ValueError(reason) from None
        _refuse_control_soup(text)
        return text, "utf-16"
    if b"\x00" in data:
        raise ValueError(message("reader", "binary_nul"))
    controls = sum(1 for byte in data if byte < 0x20 and byte not in b"\t\n\r\x0b\x0c")
    if controls >= 2 and controls > len(data) // 100:
        raise ValueError(message("reader", "binary_controls", count=controls))
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as error:
            reason = message("reader", "bad_utf8", error=error.reason)
            raise ValueError(reason) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and _plausibility(text) >= 0.6:
        return text, "gb18030"
    try:
        big5 = data.decode("big5")
    except UnicodeDecodeError:
        big5 = None
    if big5 is not None and (text is None or _plausibility(big5) > _plausibility(text)):
        return big5, "big5"
    if text is not None:
        return text, "gb18030"
    raise ValueError(message("reader", "undecodable"))


def _refuse_control_soup(text: str) -> None:
    controls = sum(
        1 for char in text if unicodedata.category(char) == "Cc" and char not in "\t\n\r\x0b\x0c"
    )
    if controls >= 2 and controls > len(text) // 100:
        raise ValueError(message("reader", "binary_controls", count=controls))


def _plausibility(text: str) -> float:
    """Share of the non-ASCII characters that are everyday Chinese (GB2312 level 1, punctuation).

    Text decoded with the wrong Chinese codec is full of rare characters and kana.
    """
    sample = to_simplified(text[:4000])
    total = common = 0
    for char in sample:
        if ord(char) < 0x80 or char.isspace():
            continue
        total += 1
        if "\u3000" <= char <= "\u303f" or "\uff00" <= char <= "\uffef" or char in "“”‘’…—·":
            common += 1
            continue
        try:
            encoded = char.encode("gb2312")
        except UnicodeEncodeError:
            continue
        if 0xB0 <= encoded[0] <= 0xD7:
            common += 1
    return common / total if total else 1.0


# -- Rules (data/reader.toml) -----------------------------------------------------------------


@dataclass(frozen=True)
class _Rules:
    chrome: tuple[re.Pattern[str], ...]
    attachment_label: re.Pattern[str]
    hints: dict[str, tuple[re.Pattern[str], ...]]
    front_matter: dict[str, frozenset[str]]
    doc_number: tuple[re.Pattern[str], ...]
    doc_number_max_other: int
    authority_line: re.Pattern[str]
    authority_never: tuple[str, ...]
    authority_trailing: tuple[str, ...]
    authority_max: int
    self_reference: re.Pattern[str]
    salutation_prefixes: tuple[str, ...]
    salutation_max: int
    salutation_never: tuple[str, ...]
    addressees: re.Pattern[str]
    closing: tuple[str, ...]
    title_keywords: tuple[str, ...]
    info_table_keys: tuple[str, ...]
    breadcrumb: re.Pattern[str]
    title_cut: re.Pattern[str]
    title_leading: re.Pattern[str]
    title_never: tuple[str, ...]
    title_max: int
    national_bodies: tuple[str, ...]
    link_farm_parts: int
    body_title: tuple[re.Pattern[str], ...]
    cited: re.Pattern[str]


@cache
def _rules(path: Path = RULES_FILE) -> _Rules:
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    authority = data["authority"]
    suffixes = "|".join(re.escape(s) for s in sorted(authority["suffixes"], key=len, reverse=True))
    return _Rules(
        chrome=tuple(re.compile(p) for p in data["chrome"]["lines"]),
        attachment_label=re.compile(data["chrome"]["attachment_label"]),
        hints={k: tuple(re.compile(p) for p in v) for k, v in data["hints"].items()},
        front_matter={k: frozenset(v) for k, v in data["front_matter"].items()},
        doc_number=tuple(re.compile(p) for p in data["doc_number"]["patterns"]),
        doc_number_max_other=int(data["doc_number"]["max_other_chars"]),
        authority_line=re.compile(f"^[{_HAN}（）()·]{{2,}}?(?:{suffixes})$"),
        authority_never=tuple(authority["never"]),
        authority_trailing=tuple(authority["trailing"]),
        authority_max=int(authority["max_chars"]),
        self_reference=re.compile(authority["self_reference"]),
        salutation_prefixes=tuple(data["salutation"]["prefixes"]),
        salutation_max=int(data["salutation"]["max_chars"]),
        salutation_never=tuple(data["salutation"]["never"]),
        addressees=re.compile(data["salutation"]["addressees"]),
        closing=tuple(data["closing"]["prefixes"]),
        title_keywords=tuple(data["title"]["keywords"]),
        info_table_keys=tuple(data["chrome"]["info_table_keys"]),
        breadcrumb=re.compile(data["chrome"]["breadcrumb_separator"]),
        title_cut=re.compile("|".join(f"(?:{p})" for p in data["title_cleanup"]["cut"])),
        title_max=int(data["title_cleanup"]["max_chars"]),
        title_leading=re.compile(data["title_cleanup"]["leading"]),
        title_never=tuple(data["title_cleanup"]["never"]),
        national_bodies=tuple(data["place"]["national_bodies"]),
        link_farm_parts=int(data["chrome"]["link_farm_parts"]),
        body_title=tuple(re.compile(p) for p in data["body_title"]["patterns"]),
        cited=re.compile(data["body_title"]["cited"]),
    )


# -- Numbering ladder ----------------------------------------------------------------------

_NUM = f"[{_CN_NUMERAL}]{{1,4}}"
_DIGITS = "[0-9０-９]{1,3}"
_MARKERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("chapter", re.compile(rf"^第\s*({_NUM}|{_DIGITS})\s*章(?![程])\s*")),
    ("part", re.compile(rf"^第\s*({_NUM}|{_DIGITS})\s*节\s*")),
    ("article", re.compile(rf"^第\s*({_NUM}|{_DIGITS})\s*条(?![件款例目])\s*")),
    ("paren_cn", re.compile(rf"^[（(]\s*({_NUM})\s*[)）]\s*[、.．]?\s*")),
    ("paren_digit", re.compile(rf"^[（(]\s*({_DIGITS})\s*[)）]\s*[、.．]?\s*")),
    ("paren_digit", re.compile(r"^([⑴-⒇])\s*")),
    ("cn", re.compile(rf"^({_NUM})\s*[、．.]\s*")),
    ("digit", re.compile(rf"^({_DIGITS})\s*[.．、](?![0-9０-９])\s*")),
    ("circled", re.compile(r"^([①-⑳])\s*")),
    ("inline", re.compile(r"^([一二三四五六七八九十]{1,3})是(?![否不])")),
)
_HEADING_KINDS = frozenset({"chapter", "part"})  # always headings
_OWNING_KINDS = frozenset({"article"})  # own every paragraph until the next one
_INLINE_MARK = re.compile(r"([一二三四五六七八九十]{1,3})是(?![否不])")


@dataclass(frozen=True, slots=True)
class _Marker:
    kind: str
    number: int
    canonical: str
    rest: str


def _cn_to_int(numeral: str) -> int:
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


def _parse_marker(text: str) -> _Marker | None:
    for kind, pattern in _MARKERS:
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
            number = _cn_to_int(raw)
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
        return _Marker(kind, number, canonical, rest)
    return None


# -- Lines ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Line:
    text: str
    heading: bool = False  # a Markdown heading (# …): always a line of its own


@dataclass(slots=True)
class _Hints:
    values: dict[str, str] = field(default_factory=dict)

    def note(self, key: str, value: str) -> None:
        value = value.strip()
        if value and key not in self.values:
            self.values[key] = value


def _clean_lines(text: str, rules: _Rules, hints: _Hints) -> list[_Line]:
    """The file's lines without markup and chrome; blank lines are left out."""
    raw_lines = text.splitlines()
    start = _front_matter_end(raw_lines, rules, hints)
    lines: list[_Line] = []
    listing_attachments = False
    for raw in raw_lines[start:]:
        line = raw.strip()
        if not line or _MD_RULE.match(line) or _MD_TABLE_RULE.match(line):
            continue
        heading = False
        if match := _MD_HEADING.match(line):
            line, heading = match.group(1), True
        line = _MD_QUOTE.sub("", line)
        line = _MD_BULLET.sub("", line)
        line = _strip_inline_markup(line).strip()
        if not line:
            continue
        if rules.attachment_label.search(line):
            listing_attachments = True
        elif listing_attachments:
            marker = _parse_marker(line)
            if marker and len(line) <= HEADING_MAX_CHARS and not _HAS_SENTENCE_END.search(line):
                continue  # 2.XXX申报表: one more attachment named in the list
            listing_attachments = False
        if _is_chrome(line, rules, hints):
            continue
        if heading or len(line) < FLAT_LINE_CHARS:
            lines.append(_Line(line, heading))
        else:
            lines.extend(_Line(part) for part in _unflatten(line))
    return lines


# Inline numbering of a page flattened to one line: 一、 (一) 1. 第一条, after a sentence end,
# a colon, a comma or a space.
_INLINE_ITEM = re.compile(
    rf"(?<=[。；;:：!?！？,，、\s])(?=(?:第{_NUM}条|{_NUM}[、，,]|{_DIGITS}[.．、](?![0-9])))"
    rf"|(?=[（(]{_NUM}[)）])"  # (一) is plain wherever it stands
)


def _unflatten(line: str) -> list[str]:
    """A long line that holds a whole numbered document (a web page flattened to one line)
    cut where its items start, for each kind of marker whose numbers run 1, 2, 3 … in it."""
    cuts: dict[str, list[tuple[int, int]]] = {}
    for match in _INLINE_ITEM.finditer(line):
        marker = _parse_marker(line[match.start() :])
        if marker is not None and marker.kind != "inline":
            cuts.setdefault(marker.kind, []).append((match.start(), marker.number))
    chosen: set[int] = set()
    for positions in cuts.values():
        expected = 1
        run = []
        for position, number in positions:
            if number == expected:
                run.append(position)
                expected += 1
            elif number == 1:  # a new list of the same kind starts
                expected = 2
                run.append(position)
        if expected > 2:  # at least 一 and 二
            chosen.update(run)
    if not chosen:
        return [line]
    bounds = [0, *sorted(chosen), len(line)]
    return [line[a:b].strip(" ,，、") for a, b in pairwise(bounds) if line[a:b].strip(" ,，、")]


def _front_matter_end(lines: Sequence[str], rules: _Rules, hints: _Hints) -> int:
    """Index after a Markdown front matter block (--- key: value … ---), noting its metadata."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or lines[first].strip() != "---":
        return 0
    for end in range(first + 1, min(len(lines), first + 40)):
        line = lines[end].strip()
        if line == "---":
            for entry in lines[first + 1 : end]:
                key, _, value = entry.partition(":")
                if not _:
                    key, _, value = entry.partition("：")
                for name, keys in rules.front_matter.items():
                    if key.strip().lower() in keys:
                        hints.note(name, value.strip().strip("\"'"))
            return end + 1
        if line and not re.match(r"^[\w\u4e00-\u9fff-]+\s*[:：]", line):
            return 0
    return 0


def _is_chrome(line: str, rules: _Rules, hints: _Hints) -> bool:
    if _is_breadcrumb(line, rules):
        crumb = rules.breadcrumb.split(line)[-1].strip()
        if any(word in crumb for word in rules.title_keywords):
            hints.note("crumb_title", crumb)  # the page's own name, last in its breadcrumb
        return True
    compact = _WHITE.sub("", line)
    if _is_link_farm(line, rules):
        return True  # 国产…-…在线-…: a link farm or a navigation bar
    if sum(key in compact for key in rules.info_table_keys) >= 2:
        for key in ("doc_number", "date", "authority", "title"):
            for pattern in rules.hints.get(key, ()):
                if match := pattern.search(line):
                    hints.note(key, match.group("value"))
        return True
    if not any(pattern.search(line) for pattern in rules.chrome):
        return False
    for key, patterns in rules.hints.items():
        for pattern in patterns:
            if match := pattern.search(line):
                hints.note(key, match.group("value"))
    return True


def _is_link_farm(line: str, rules: _Rules) -> bool:
    """Short names joined by - _ | (site spam, a menu): no sentence, no field, no date."""
    if _HAS_SENTENCE_END.search(line) or re.search(r"[:：]", line):
        return False
    undated = re.sub(r"(?<=[0-9])-(?=[0-9])", "·", line)  # 2022-03-03 is no separator
    parts = [p for p in re.split(r"\s*[-_|｜]\s*", undated) if p.strip()]
    return len(parts) >= rules.link_farm_parts and all(2 <= len(p) <= 30 for p in parts)


def _is_breadcrumb(line: str, rules: _Rules) -> bool:
    """首页 > 政务公开 > 通知公告: short parts between two or more separators."""
    parts = rules.breadcrumb.split(line)
    separators = (len(parts) - 1) // 2
    return separators >= 2 and not _HAS_SENTENCE_END.search(line)


# -- Header and signature ------------------------------------------------------------------


def _doc_number_of(line: str, rules: _Rules) -> str | None:
    """The 文号 a header line carries, when it carries little else."""
    for pattern in rules.doc_number:
        match = pattern.search(line)
        if match and len(line) - len(match.group()) <= rules.doc_number_max_other:
            return _WHITE.sub("", match.group())
    return None


def _authority_of(line: str, rules: _Rules) -> str | None:
    """The issuing body(ies) a line names, when the line is nothing but that."""
    if _parse_marker(line):
        return None
    names = []
    for part in _WHITE.split(line.strip()):
        for trailing in rules.authority_trailing:
            if part.endswith(trailing) and len(part) > len(trailing) + 2:
                part = part[: -len(trailing)]
        if (
            4 <= len(part) <= rules.authority_max
            and rules.authority_line.match(part)
            and not any(word in part for word in rules.authority_never)
        ):
            names.append(part)
        else:
            return None
    return "、".join(names) if names else None


_DATE_PATTERNS = (
    re.compile(r"([12][0-9]{3})\s*年\s*([0-9]{1,2})\s*月\s*([0-9]{1,2})\s*日"),
    re.compile(
        rf"([{_CN_DIGITS}]{{4}})\s*年\s*([一二三四五六七八九十]{{1,3}})\s*月\s*([一二三四五六七八九十]{{1,3}})\s*日"
    ),
    re.compile(r"(?<![0-9])([12][0-9]{3})\s*[-./]\s*([0-9]{1,2})\s*[-./]\s*([0-9]{1,2})(?![0-9])"),
)


def _find_date(text: str) -> tuple[dt.date, re.Match[str]] | None:
    normal = unicodedata.normalize("NFKC", text)
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(normal):
            year, month, day = match.groups()
            if not year.isdigit():
                year = "".join(str(_CN_DIGIT_VALUES[c]) for c in year)
            try:
                values = [int(year)] + [
                    int(v) if v.isdigit() else _cn_to_int(v) for v in (month, day)
                ]
                return dt.date(*values), match
            except ValueError:
                continue
    return None


def _parse_date(text: str) -> dt.date | None:
    found = _find_date(text)
    return found[0] if found else None


def _date_line(line: str, rules: _Rules) -> tuple[dt.date, str | None] | None:
    """A signature-style date line (2021年6月9日, optionally after the body's name)."""
    normal = unicodedata.normalize("NFKC", line)
    found = _find_date(normal)
    if found is None:
        return None
    date, match = found
    rest = (normal[: match.start()] + normal[match.end() :]).strip(" ()（）")
    if not rest:
        return date, None
    authority = _authority_of(rest, rules)
    return (date, authority) if authority else None


def _is_salutation(line: str, rules: _Rules) -> bool:
    if not line.endswith((":", "：")) or _HAS_SENTENCE_END.search(line):
        return False
    if line.startswith(rules.salutation_prefixes) or rules.addressees.search(line):
        return True
    return (
        len(line) <= rules.salutation_max
        and _parse_marker(line) is None
        and not any(word in line for word in rules.salutation_never)
    )


def _starts_body(line: _Line) -> bool:
    return bool(
        _parse_marker(line.text) or _HAS_SENTENCE_END.search(line.text) or len(line.text) > 100
    )


@dataclass(slots=True)
class _Header:
    title: str | None = None
    doc_number: str | None = None
    authority: str | None = None
    recipient: str | None = None
    date: dt.date | None = None
    text: str = ""  # all header lines, for place names


def _read_header(lines: list[_Line], rules: _Rules) -> tuple[_Header, int]:
    """The header's metadata and the index of the first body line."""
    header = _Header()
    body_start = None
    for index, line in enumerate(lines[:HEADER_MAX_LINES]):
        if _is_salutation(line.text, rules):
            header.recipient = _recipient(line.text, rules)
            body_start = index + 1
            header_lines = lines[:index]
            break
        if _starts_body(line):
            body_start = index
            header_lines = lines[:index]
            break
    if body_start is None:  # no body in sight: only a leading title line is header
        first = lines[0].text if lines else ""
        has_title = any(word in first for word in rules.title_keywords)
        body_start = 1 if has_title else 0
        header_lines = lines[:body_start]

    runs: list[list[str]] = []
    previous_was_title = False
    for line in header_lines:
        text = line.text
        if (number := _doc_number_of(text, rules)) is not None:
            header.doc_number = header.doc_number or number
            previous_was_title = False
        elif (authority := _authority_of(text, rules)) is not None:
            header.authority = header.authority or authority
            previous_was_title = False
        elif (dated := _date_line(text, rules)) is not None:
            header.date = header.date or dated[0]
            previous_was_title = False
        elif re.match(r"^[（(].*[)）]$", text) and runs and _find_date(text) is not None:
            header.date = header.date or _parse_date(text)  # （2021年8月1日…印发）: a note
            previous_was_title = False
        elif re.match(r"^[（(].*[)）]$", text) and runs:
            runs[-1].append(text)  # （征求意见稿）, （修订稿）: part of the title
            previous_was_title = True
        else:
            if previous_was_title and not line.heading:
                runs[-1].append(text)
            else:
                runs.append([text])
            previous_was_title = True
    # each run of lines, and each line alone (a site prints its title among other lines)
    pieces = [_without_label(run, rules) for run in runs] + [[p] for run in runs for p in run]
    candidates = [
        _tidy_title("".join(run) if len(run) == 1 else _join_title(run), rules) for run in pieces
    ]
    candidates = [
        c
        for c in candidates
        if 4 <= len(c) <= rules.title_max and not any(w in c for w in rules.title_never)
    ]
    if candidates:
        header.title = max(
            candidates,
            key=lambda c: (
                any(k in c for k in rules.title_keywords),
                _TITLE_END.search(_strip_note(c)[-6:]) is not None,  # ends as a title does
                len(c),
            ),
        )
    header.text = "\n".join(line.text for line in header_lines)
    return header, body_start


def _without_label(run: list[str], rules: _Rules) -> list[str]:
    """A title run without the site's column label above it (热点动态 / 西安市…申报指南)."""
    while (
        len(run) > 1
        and len(run[0]) <= COLUMN_LABEL_MAX_CHARS
        and not any(k in run[0] for k in rules.title_keywords)
        and any(k in "".join(run[1:]) for k in rules.title_keywords)
    ):
        run = run[1:]
    return run


def _join_title(parts: list[str]) -> str:
    joined = parts[0]
    for part in parts[1:]:
        joined += (" " if joined[-1:].isascii() and part[:1].isascii() else "") + part
    return joined


def _tidy_title(title: str, rules: _Rules | None = None) -> str:
    """Stray spaces from PDF layout removed (工业互联网 产业 → 工业互联网产业); site furniture
    glued to it cut off (…通知[政策法规]发表于:…, 决策预公开详情关于…); a title printed twice
    kept once."""
    title = _SPACE_NEAR_WIDE.sub("", title.strip())
    title = _WHITE.sub(" ", title)
    if rules is not None and (cut := rules.title_cut.search(title)) and cut.start() >= 6:
        title = title[: cut.start()].rstrip(" :：-—|")
    if rules is not None:
        title = rules.title_leading.sub("", title)
    if title.startswith("《") and title.endswith("》") and title.count("《") == 1:
        title = title[1:-1]  # a title printed in book brackets on a line of its own
    return _once(_after_topic(_without_residue(title)))


def _after_topic(title: str) -> str:
    """A page's topic before a colon, then the document's whole title: the title
    (…奖励政策:石龙镇…实施办法(征求意见稿) → 石龙镇…实施办法(征求意见稿))."""
    parts = re.split(r"[:：]", title, maxsplit=1)
    if len(parts) == 2:
        tail = parts[1]
        if len(tail) >= TITLE_TAIL_MIN_CHARS and _TITLE_END.search(_strip_note(tail)[-6:]):
            return tail
    return title


def _strip_note(title: str) -> str:
    """A title without a closing note in brackets: …若干措施（试行） → …若干措施."""
    return re.sub(r"[（(][^（()）]{1,12}[)）]$", "", title)


def _without_residue(title: str) -> str:
    """A title ends with what it is (…的公告, …细则): a few stray words after that go
    (…的公告本次征集开始); a note in brackets (（试行）) stays."""
    ends = list(_TITLE_END.finditer(title))
    if not ends:
        return title
    match = ends[-1]
    rest = title[match.end() :]
    if rest and len(rest) <= TITLE_RESIDUE_MAX_CHARS and not re.match(r"^[（(《]", rest):
        return title[: match.end()]
    return title


def _from_issuer(title: str, authority: str | None) -> str:
    """A title starts with its issuers or with 关于: what stands before them (a site's label,
    陕西:, 决策预公开详情) goes."""
    head, found, _ = title.partition("关于")
    if not found or not head:
        return title
    for size in range(len(head) // 2, 3, -1):  # 工信部办公厅·网站·工信部办公厅关于…
        if head.endswith(head[:size]):
            return title[len(head) - size :]
    if authority:
        first = re.split(r"[、，,\s]+", authority.strip())[0]
        at = head.rfind(first) if first else -1  # the last: a site prints its name first
        if at >= 0:
            return title[at:]
    if head.endswith((":", "：")) or (
        len(head) <= COLUMN_LABEL_MAX_CHARS and not re.search(rf"[0-9]|{_ISSUER_SUFFIX}", head)
    ):
        return title[len(head) :]  # 陕西:关于…, 决策预公开详情关于…: a site's label
    return title


def _once(title: str) -> str:
    """A title a page printed twice: X·Y·Y → Y; Y·(site name)·Y → Y."""
    for size in range(len(title) // 2, 5, -1):
        tail = title[-size:]
        if title[-2 * size : -size] == tail or title.startswith(tail):
            return tail
    return title


def _recipient(line: str, rules: _Rules) -> str:
    text = line.rstrip(":：").strip()
    for prefix in rules.salutation_prefixes:
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text.strip()


# -- Paragraphs ----------------------------------------------------------------------------


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _wrap_width(lines: Sequence[_Line]) -> int | None:
    """The width text was hard-wrapped at, if it was (most long lines end at the same width)."""
    widths = [_display_width(line.text) for line in lines if not line.heading]
    long_widths = [w for w in widths if w >= 40]
    if len(long_widths) < 6:
        return None
    mode = statistics.mode(w // 4 for w in long_widths) * 4
    near = [w for w in long_widths if mode - 4 <= w <= mode + 7]
    if len(near) < 0.5 * len(long_widths) or len(near) < 5:
        return None
    return max(near)


def _heading_like(text: str) -> bool:
    """A line that stands alone: a short numbered title, or a short unpunctuated label."""
    if _HAS_SENTENCE_END.search(text):
        return False
    if _parse_marker(text):
        return len(text) <= HEADING_MAX_CHARS
    return len(text) <= 20 and not re.search(r"[，,、：:]", text)


def _join_paragraphs(lines: Sequence[_Line]) -> list[_Line]:
    """Undo hard line breaks: join a line to the previous one unless the break is real."""
    wrap = _wrap_width(lines)
    paragraphs: list[_Line] = []
    for line in lines:
        if paragraphs and not _breaks(paragraphs[-1], line, wrap):
            previous = paragraphs[-1]
            last, first = previous.text[-1:], line.text[:1]
            glue = (
                " "
                if last.isascii() and last.isalnum() and first.isascii() and first.isalnum()
                else ""
            )
            previous.text = previous.text + glue + line.text
        else:
            paragraphs.append(_Line(line.text, line.heading))
    return paragraphs


def _breaks(previous: _Line, line: _Line, wrap: int | None) -> bool:
    marker = _parse_marker(previous.text)
    if marker is not None and not marker.rest.strip():
        return False  # "一、" alone: its title is on the next line
    if previous.heading or line.heading:
        return True
    if _parse_marker(line.text):
        return True
    if previous.text.endswith((":", "：")) and len(previous.text) <= LABEL_MAX_CHARS:
        return bool(_parse_marker(previous.text)) and len(previous.text) > LABEL_MAX_CHARS
    if _ENDS_SENTENCE.search(previous.text):
        return True
    if wrap is not None:
        return _display_width(previous.text) < wrap - 8
    return _heading_like(previous.text)


# -- Clauses -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Level:
    kind: str
    number: int
    canonical: str
    title: str | None
    heading: bool  # a heading (context) rather than a clause item of its own


class _ClauseBuilder:
    """Walks the paragraphs keeping the stack of numbered items above the current one."""

    def __init__(self, paragraphs: list[_Line], rules: _Rules) -> None:
        self.paragraphs = paragraphs
        self.rules = rules
        self.stack: list[_Level] = []
        self.clauses: list[ParsedClause] = []
        self.markers = [
            None if p.heading and not _parse_marker(p.text) else _parse_marker(p.text)
            for p in paragraphs
        ]
        numbered = [i for i, m in enumerate(self.markers) if m is not None]
        self.last_numbered = numbered[-1] if numbered else -1
        self.closing = False

    def build(self) -> list[ParsedClause]:
        index = 0
        while index < len(self.paragraphs):
            paragraph, marker = self.paragraphs[index], self.markers[index]
            if marker is None:
                index += 1 + self._unnumbered(index, paragraph)
            else:
                index += 1 + self._numbered(index, paragraph, marker)
        return self.clauses

    def _list_items(self, index: int, text: str) -> int:
        """How many short numbered items after ``index`` complete the list its text opens.

        ``专项资金支持以下项目：（一）…；（二）…；`` is one clause: its items say little alone.
        """
        if not text.rstrip().endswith(("：", ":")):
            return 0
        kind = None
        cursor = index + 1
        while cursor < len(self.paragraphs):
            marker, paragraph = self.markers[cursor], self.paragraphs[cursor]
            if marker is None or paragraph.heading or marker.kind == "inline":
                break
            if kind is None:
                if any(level.kind == marker.kind for level in self.stack):
                    return 0  # not deeper than the opening line: no list of its own
                kind = marker.kind
            elif marker.kind != kind:
                break
            if len(paragraph.text) > LIST_ITEM_MAX_CHARS:
                return 0
            cursor += 1
        count = cursor - index - 1
        if count < 2:
            return 0
        if cursor < len(self.paragraphs) and self.markers[cursor] is None:
            following = self.paragraphs[cursor]
            owned = any(level.kind in _OWNING_KINDS for level in self.stack)
            if not following.heading and not owned:
                return 0  # text below the last item: the items are headings
        return count

    def _text_with_list(self, index: int, text: str) -> tuple[str, int]:
        count = self._list_items(index, text)
        if not count:
            return text, 0
        items = [p.text for p in self.paragraphs[index + 1 : index + 1 + count]]
        return "\n".join([text, *items]), count

    # paths and headings
    def _path(self, levels: Sequence[_Level]) -> str:
        return "".join(level.canonical for level in levels)

    def _headings(self, levels: Sequence[_Level]) -> tuple[str, ...]:
        return tuple(level.title for level in levels if level.title)

    def _emit(
        self, text: str, levels: Sequence[_Level], *, headings: tuple[str, ...] | None = None
    ) -> None:
        for part in _split_long(text, MAX_CLAUSE_CHARS):
            if not re.search(rf"[{_HAN}0-9A-Za-z]", part):
                continue
            self.clauses.append(
                ParsedClause(
                    section=self._path(levels),
                    headings=self._headings(levels) if headings is None else headings,
                    text=part,
                    ordinal=len(self.clauses),
                )
            )

    def _emit_with_inline(self, text: str) -> None:
        """Emit ``text`` under the current stack, split along 一是…二是… when it has them."""
        top = self.stack[-1] if self.stack else None
        expected = top.number + 1 if top and top.kind == "inline" else 1
        segments = _inline_segments(text, expected)
        for number, segment in segments:
            if number is None:
                self._emit(segment, self.stack)
                continue
            if self.stack and self.stack[-1].kind == "inline":
                self.stack.pop()
            numeral = _INT_TO_CN.get(number, str(number))
            self.stack.append(_Level("inline", number, f"{numeral}是", None, heading=False))
            self._emit(segment, self.stack)

    # paragraphs
    def _unnumbered(self, index: int, paragraph: _Line) -> int:
        text = paragraph.text
        # the one line under a numbered title (一、申报时间 / 2025年11月6日-11月19日) is its text
        under_title = (
            index > 0
            and self.markers[index - 1] is not None
            and _heading_like(self.paragraphs[index - 1].text)
        )
        if paragraph.heading or (
            _heading_like(text)
            and not under_title
            and index + 1 < len(self.paragraphs)
            and self.markers[index + 1]
        ):
            self._float_heading(text, markdown=paragraph.heading)
            return 0
        if index > self.last_numbered and (self.closing or text.startswith(self.rules.closing)):
            self.closing = True
            self.stack = []
            self._emit(text, [])
            return 0
        while (
            self.stack and not self.stack[-1].heading and self.stack[-1].kind not in _OWNING_KINDS
        ):
            self.stack.pop()
        text, consumed = self._text_with_list(index, text)
        if consumed:
            self._emit(text, self.stack)
        else:
            self._emit_with_inline(text)
        return consumed

    def _float_heading(self, text: str, *, markdown: bool) -> None:
        """An unnumbered heading (## 总则, 编制原则): context for what follows, no path."""
        kind = "markdown" if markdown else "float"
        for position, level in enumerate(self.stack):
            if level.kind == kind:
                del self.stack[position:]
                break
        title = _strip_end(text)
        self.stack.append(_Level(kind, 0, "", title or None, heading=True))

    def _numbered(self, index: int, paragraph: _Line, marker: _Marker) -> int:
        for position, level in enumerate(self.stack):
            if level.kind == marker.kind:
                del self.stack[position:]
                break
        content = marker.rest.strip()
        lead, remainder = _lead_sentence(content)
        if marker.kind in _HEADING_KINDS or (
            not remainder
            and marker.kind not in _OWNING_KINDS
            and marker.kind != "inline"
            and (
                paragraph.heading
                or (
                    # a long full sentence is an item's text, not a title over what follows
                    len(content)
                    <= (LEAD_TITLE_MAX_CHARS if _is_sentence(content) else HEADING_MAX_CHARS)
                    and self._has_children(index, marker)
                )
            )
        ):
            head, tail = _heading_and_tail(content)
            title = _strip_end(head if tail else content)
            above = self._headings(self.stack)
            self.stack.append(
                _Level(marker.kind, marker.number, marker.canonical, title or None, True)
            )
            if tail:
                self._emit_with_inline(tail)
            elif not paragraph.heading and _is_sentence(content):
                self._emit(content, self.stack, headings=above)  # a full sentence: text too
            return 0
        title = None
        if remainder and len(lead) <= LEAD_TITLE_MAX_CHARS and marker.kind not in _OWNING_KINDS:
            title = _strip_end(lead)
        level = _Level(marker.kind, marker.number, marker.canonical, None, heading=False)
        self.stack.append(level)
        if marker.kind == "inline":
            self._emit_with_inline(content)
            return 0
        listed, consumed = self._text_with_list(index, content)
        if consumed:
            self._emit(listed, self.stack)
            return consumed
        segments = _inline_segments(content, 1)
        first_number, first_text = segments[0]
        if first_number is None:
            if len(segments) == 1 or first_text != lead.strip():
                self._emit(first_text, self.stack)
            # else: the lead sentence alone is the title of the 一是…二是… parts below it
            segments = segments[1:]
        level.title = title  # the lead sentence heads the item's own 一是…二是… parts
        for number, segment in segments:
            if self.stack[-1].kind == "inline":
                self.stack.pop()
            numeral = _INT_TO_CN.get(number or 0, str(number))
            self.stack.append(_Level("inline", number or 0, f"{numeral}是", None, heading=False))
            self._emit(segment, self.stack)
        return 0

    def _has_children(self, index: int, marker: _Marker) -> bool:
        """Whether the paragraphs after a numbered line belong under it (so it is a heading)."""
        if index + 1 >= len(self.paragraphs):
            return False
        following = self.paragraphs[index + 1]
        next_marker = self.markers[index + 1]
        if next_marker is None:
            return not following.heading
        if next_marker.kind == marker.kind:
            return False
        return all(level.kind != next_marker.kind for level in self.stack)


_INT_TO_CN = {i: n for i, n in enumerate("零一二三四五六七八九十", start=0)} | {
    10 + i: "十" + n for i, n in enumerate("一二三四五六七八九", start=1)
}


def _strip_end(text: str) -> str:
    return text.strip().rstrip(_SENTENCE_END + "：:，,、").strip()


def _is_sentence(text: str) -> bool:
    """A full sentence (设立技术创新专项，支持…技术创新。) rather than a bare title."""
    return bool(re.search(f"[，,；;][^{_SENTENCE_END}]*[。！？!?][{re.escape(_CLOSERS)}]*$", text))


def _lead_sentence(text: str) -> tuple[str, str]:
    """The first sentence of ``text`` (with its end mark) and the rest."""
    match = re.search(f"[{_SENTENCE_END}][{re.escape(_CLOSERS)}]*", text)
    if not match:
        return text, ""
    return text[: match.end()], text[match.end() :].strip()


_HEADING_TAIL = re.compile(
    rf"^(?P<head>[^\s{_SENTENCE_END}：:]{{2,40}}?[^\sA-Za-z0-9{_SENTENCE_END}：:])\s+(?P<tail>[{_HAN}“《].*[{_SENTENCE_END}][{re.escape(_CLOSERS)}]*)$"
)


def _heading_and_tail(content: str) -> tuple[str | None, str | None]:
    """A heading and its first sentence run together on one line (五、关于… 吸收采纳该建议。)."""
    match = _HEADING_TAIL.match(content)
    if not match:
        return None, None
    return match.group("head"), match.group("tail")


def _inline_segments(text: str, expected: int) -> list[tuple[int | None, str]]:
    """Split ``text`` at an inline enumeration (一是…；二是…), numbers in sequence from
    ``expected``, each marker opening a sentence. Marker words are left out of the parts."""
    cuts: list[tuple[int, int, int]] = []  # (start, end of marker, number)
    want = expected
    for match in _INLINE_MARK.finditer(text):
        number = _cn_to_int(match.group(1))
        if number != want:
            continue
        before = text[: match.start()].rstrip().rstrip(_CLOSERS).rstrip()
        if before and before[-1] not in _SENTENCE_END + "：:":
            continue
        cuts.append((match.start(), match.end(), number))
        want += 1
    needed = 1 if expected > 1 else 2
    if len(cuts) < needed:
        return [(None, text)]
    segments: list[tuple[int | None, str]] = []
    if text[: cuts[0][0]].strip():
        segments.append((None, text[: cuts[0][0]].strip()))
    for position, (_start, end, number) in enumerate(cuts):
        stop = cuts[position + 1][0] if position + 1 < len(cuts) else len(text)
        segments.append((number, text[end:stop].strip()))
    parts = [s for n, s in segments if n is not None]
    if sum(len(p) for p in parts) / len(parts) < MIN_INLINE_PART_CHARS:
        return [(None, text)]
    return segments


_SENTENCE = re.compile(
    f"[^{_SENTENCE_END}]*[{_SENTENCE_END}]+[{re.escape(_CLOSERS)}]*|[^{_SENTENCE_END}]+$"
)
_PHRASE = re.compile(f"[^，,、：:]*[，,、：:]+[{re.escape(_CLOSERS)}]*|[^，,、：:]+$")


def _split_long(text: str, limit: int) -> list[str]:
    """Split ``text`` into parts of at most ``limit`` characters at sentence ends, balanced.

    A single sentence longer than the limit is split at commas, and only as a last resort
    at the limit itself.
    """
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    pieces: list[str] = []
    for sentence in _SENTENCE.findall(text):
        if len(sentence) <= limit:
            pieces.append(sentence)
            continue
        for phrase in _PHRASE.findall(sentence):
            while len(phrase) > limit:
                pieces.append(phrase[:limit])
                phrase = phrase[limit:]
            pieces.append(phrase)
    target = len(text) / math.ceil(len(text) / limit)
    parts: list[str] = []
    current = ""
    for piece in pieces:
        if current and (len(current) + len(piece) > limit or len(current) >= target):
            parts.append(current)
            current = ""
        current += piece
    if current:
        parts.append(current)
    return [part.strip() for part in parts if part.strip()]


# -- Metadata ------------------------------------------------------------------------------


def _signature(body: list[_Line], rules: _Rules) -> tuple[dt.date | None, str | None, set[int]]:
    """The signing date, the signing body, and which body lines are signature lines."""
    signature_lines: set[int] = set()
    dates: list[tuple[int, dt.date, str | None]] = []
    for index, line in enumerate(body):
        if line.heading:
            continue
        if (dated := _date_line(line.text, rules)) is not None:
            signed_off = (
                index >= len(body) - SIGNATURE_TAIL_LINES
                or dated[1] is not None
                or (index > 0 and _authority_of(body[index - 1].text, rules) is not None)
            )
            if signed_off:  # a date alone mid-text (申报时间 … 2021年9月10日) is content
                dates.append((index, dated[0], dated[1]))
                signature_lines.add(index)
        elif _authority_of(line.text, rules) is not None:
            signature_lines.add(index)
    date = authority = None
    if dates:
        index, date, authority = dates[-1]
        names = []
        cursor = index - 1
        while cursor >= 0 and cursor in signature_lines and not any(d[0] == cursor for d in dates):
            names.insert(0, _authority_of(body[cursor].text, rules))
            cursor -= 1
        if names and authority is None:
            authority = "、".join(n for n in names if n)
    elif signature_lines:
        tail = max(signature_lines)
        if tail == len(body) - 1:
            authority = _authority_of(body[tail].text, rules)
    return date, authority, signature_lines


def _inferred_authority(
    title: str | None, body_text: str, rules: _Rules, gazetteer: Gazetteer
) -> str | None:
    """The drafting body the text names for itself (区工业和信息化局), placed by the title."""
    if not title:
        return None
    places = [m for m in gazetteer.matches(title) if m.place.kind != PROVINCE]
    if not places:
        return None
    place = places[0].place
    levels = {"city": "市", "district": "区", "town": "镇县"}[place.kind]
    for match in rules.self_reference.finditer(body_text):
        if match.group("level") in levels:
            return f"{place.name}{match.group('level')}{match.group('stem')}"
    return None


def _title_authority(title: str | None, rules: _Rules) -> str | None:
    """The body a title opens with: 中山市工业和信息化局关于… → 中山市工业和信息化局."""
    if not title or "关于" not in title:
        return None
    return _authority_of(title.split("关于", 1)[0], rules)


# -- The document ------------------------------------------------------------------------


def parse_policy_text(
    text: str, *, source: str, gazetteer: Gazetteer | None = None
) -> ParsedDocument:
    """Read decoded policy text into a document; raises ValueError when it holds no policy text.

    The rules read a simplified-character view of the text (see :mod:`retrieval.view`); what
    is kept is restored to the file's own characters.
    """
    rules = _rules()
    gazetteer = gazetteer or load_gazetteer()
    view, positions = simplified_view(text)
    restorer = Restorer(text, view, positions)
    hints = _Hints()
    lines = _clean_lines(view, rules, hints)
    if not lines:
        raise ValueError(message("reader", "only_furniture"))
    header, body_start = _read_header(lines, rules)
    body = lines[body_start:]
    signed, signer, signature_lines = _signature(body, rules)
    kept = [line for index, line in enumerate(body) if index not in signature_lines]
    paragraphs = _join_paragraphs(kept)
    clauses = _ClauseBuilder(paragraphs, rules).build()
    han = sum(len(_HAN_CHAR.findall(clause.text)) for clause in clauses)
    if not clauses or han < MIN_POLICY_HAN_CHARS:
        raise ValueError(message("reader", "no_chinese"))
    clauses = _with_header_clause(header, clauses)

    title, title_source = _title(header, hints, paragraphs, rules)
    body_text = "\n".join(p.text for p in paragraphs)
    authority = (
        signer
        or header.authority
        or _hint_authority(hints, rules)
        or _title_authority(title, rules)
        or _inferred_authority(title, body_text, rules, gazetteer)
    )
    title = _from_issuer(title, authority)
    doc_number = (
        header.doc_number or _hint_doc_number(hints, rules) or _early_doc_number(view, rules)
    )
    date = (
        signed
        or _parse_date(hints.values.get("date", ""))
        or header.date
        or _parse_date(hints.values.get("published", ""))
    )
    place = document_place(
        gazetteer,
        authority=authority,
        title=title,
        doc_number=doc_number,
        header=header.text,
        recipient=header.recipient,
        body=body_text,
        national_bodies=rules.national_bodies,
    )
    clauses = [
        replace(
            clause,
            text=restorer.restore(clause.text),
            headings=tuple(restorer.restore(h, ordered=False) for h in clause.headings),
        )
        for clause in clauses
    ]
    clauses = _with_seams(clauses, text)
    warnings = [
        name
        for name, missing in (
            ("title", not title),
            ("doc_number", not doc_number),
            ("place", place.level is None),
        )
        if missing
    ]
    return ParsedDocument(
        source=source,
        doc_number=restorer.restore(doc_number, ordered=False) if doc_number else None,
        title=restorer.restore(title, ordered=False) if title else "",
        authority=restorer.restore(authority, ordered=False) if authority else None,
        recipient=restorer.restore(header.recipient, ordered=False) if header.recipient else None,
        date=date,
        city=place.city,
        district=place.district,
        province=place.province,
        level=place.level,
        title_source=title_source,
        missing=tuple(warnings),
        clauses=clauses,
        text=text,
    )


def _with_header_clause(header: _Header, clauses: list[ParsedClause]) -> list[ParsedClause]:
    """The header as a clause of its own when it says more than the title (文号, dates, a
    consultation's closing day): "文号是多少", "征求意见截止哪天" are answered from it."""
    lines = [line for line in header.text.splitlines() if line.strip()]
    if not (header.doc_number or len(lines) > 1 or (lines and _find_date(lines[0]))):
        return clauses
    head = ParsedClause(section="", headings=(), text=" ".join(lines), ordinal=0)
    return [head, *(replace(c, ordinal=c.ordinal + 1) for c in clauses)]


def _title(
    header: _Header, hints: _Hints, paragraphs: Sequence[_Line], rules: _Rules
) -> tuple[str, str]:
    """The document's title and where it was found: its header, the page's information table
    or breadcrumb, or (a page with none) its first line that reads like a heading."""
    if header.title:
        return header.title, "header"
    for key, where in (("title", "page"), ("crumb_title", "breadcrumb")):
        value = _tidy_title(hints.values.get(key, ""), rules)
        if 4 <= len(value) <= rules.title_max:
            return value, where
    opening = rules.cited.sub(" ", " ".join(p.text for p in paragraphs[:3])[:600])
    found = [m for pattern in rules.body_title if (m := pattern.search(opening))]
    if found:  # the earliest, then the longest: 关于发布《X》的通知 rather than X
        first = min(found, key=lambda m: (m.start("value"), -len(m.group("value"))))
        return _tidy_title(first.group("value"), rules), "body"
    for paragraph in paragraphs[:6]:
        text = paragraph.text.strip()
        if paragraph.heading or (
            _heading_like(text) and not _parse_marker(text) and len(text) >= 6
        ):
            return _tidy_title(text, rules), "heading"
    return "", "none"


def _hint_authority(hints: _Hints, rules: _Rules) -> str | None:
    value = hints.values.get("authority")
    if not value:
        return None
    return _authority_of(value, rules) or value


def _with_seams(clauses: list[ParsedClause], text: str) -> list[ParsedClause]:
    """Mark where each clause's text is not continuous in the file (see ``ParsedClause.seams``):
    markup removed inside a sentence (``**``), a page-furniture line dropped between two lines
    it joined. A quote that crosses a seam is cut there, so every quote stays verbatim.

    The clause's characters are found in the file's (white space removed) in reading order; a
    jump between two neighbours is a seam.
    """
    raw = "".join(text.split())
    marked = []
    search_from = 0
    for clause in clauses:
        offsets = [i for i, char in enumerate(clause.text) if not char.isspace()]
        compact = "".join(clause.text[i] for i in offsets)
        if not compact:
            marked.append(clause)
            continue
        start = -1
        length = len(compact)
        while length >= 2 and start < 0:  # the longest opening found anchors the clause
            probe = compact[:length]
            start = raw.find(probe, search_from)
            if start < 0:
                start = raw.find(probe)
            length = length * 2 // 3
        if start < 0:
            start = raw.find(compact[0], search_from)
        if start < 0:
            marked.append(clause)
            continue
        positions = []
        cursor = start
        for char in compact:
            found = raw.find(char, cursor)
            if found < 0:
                break
            positions.append(found)
            cursor = found + 1
        if len(positions) < len(compact):
            marked.append(clause)
            continue
        search_from = positions[0]
        seams = tuple(
            offsets[i] for i in range(1, len(positions)) if positions[i] != positions[i - 1] + 1
        )
        marked.append(replace(clause, seams=seams) if seams else clause)
    return marked


def _early_doc_number(text: str, rules: _Rules) -> str | None:
    """A 文号 printed near the top but inside other text (核心提示:川经信财资〔2023〕28号各市…):
    the first one that is not a citation (in brackets, or after 根据)."""
    head = rules.cited.sub(" ", text[:EARLY_NUMBER_CHARS])
    for pattern in rules.doc_number:
        for match in pattern.finditer(head):
            number = _WHITE.sub("", match.group())
            opens_line = match.start() == 0 or head[match.start() - 1] in "\n:：】 "
            short = len(re.split(r"[〔\[（(【]", number)[0]) <= EARLY_NUMBER_PREFIX_CHARS
            if opens_line and short and not _in_brackets(head, match.start()):
                return number
    return None


def _in_brackets(text: str, position: int) -> bool:
    """Whether ``position`` lies inside an open （…） or 《…》 of ``text``."""
    opened = text.count("（", 0, position) + text.count("(", 0, position)
    closed = text.count("）", 0, position) + text.count(")", 0, position)
    books = text.count("《", 0, position) - text.count("》", 0, position)
    return opened > closed or books > 0


def _hint_doc_number(hints: _Hints, rules: _Rules) -> str | None:
    value = hints.values.get("doc_number")
    if not value:
        return None
    for pattern in rules.doc_number:
        if match := pattern.search(value):
            return _WHITE.sub("", match.group())
    return None


def read_document(path: Path, *, source: str | None = None) -> ParsedDocument:
    """Read one policy file; raises DocumentError(path, reason) for files with no policy text."""
    source = source if source is not None else str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise DocumentError(
            source, message("reader", "unreadable", error=error.strerror or error)
        ) from error
    if not data.strip():
        reason = message("reader", "empty" if not data else "white_space")
        raise DocumentError(source, reason)
    suffix = Path(path).suffix.lower()
    warnings: list[str] = []
    try:
        if suffix in formats.SUFFIXES or suffix in formats.REFUSED_SUFFIXES:
            extracted = formats.extract(data, suffix)  # PDF, Word, web page: their text
            text, encoding, warnings = extracted.text, suffix.lstrip("."), extracted.warnings
        else:
            text, encoding = decode_policy_bytes(data)
    except ValueError as error:  # FormatError too: its message is the Chinese reason
        raise DocumentError(source, str(error)) from error
    if not text.strip():
        raise DocumentError(source, message("reader", "white_space"))
    try:
        document = parse_policy_text(text, source=source)
    except ValueError as error:
        raise DocumentError(source, str(error)) from error
    document.encoding = encoding
    document.warnings = warnings
    document.content_hash = hashlib.sha256(data).hexdigest()
    return document
