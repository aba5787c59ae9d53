"""The header (issuing body, 文号, title, the salutation naming the recipient) and the
signature (body and signing date), read off the cleaned lines; neither becomes a clause."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.reader.furniture import _heading_like
from retrieval.reader.rules import (
    _HAS_SENTENCE_END,
    _SPACE_NEAR_WIDE,
    _WHITE,
    _Hints,
    _Line,
    _Rules,
)
from zhtext.ladder import CN_DIGIT_VALUES, CN_DIGITS, cn_to_int, parse_marker

HEADER_MAX_LINES = 12  # the header (body, 文号, title) is found within the first lines
SIGNATURE_TAIL_LINES = 4  # a bare date line this near the end is the signing date
TITLE_TAIL_MIN_CHARS = 8  # a complete title after a colon is taken alone from this length
TITLE_RESIDUE_MAX_CHARS = 8  # stray words after a title's last word (…的公告本次征集开始)
_TITLE_END = re.compile(
    r"(的通知|的公告|的通告|的意见|的函|的答复|的批复|的决定|办法|细则|方案|指南|措施|规定|政策)"
)
_ISSUER_SUFFIX = "局|厅|委员会|委|办公室|办公厅|人民政府|政府|管委会|部|署|中心"
COLUMN_LABEL_MAX_CHARS = 8  # a short line above a title with no title word is a site label


def _doc_number_of(line: str, rules: _Rules) -> str | None:
    """The 文号 a header line carries, when it carries little else."""
    for pattern in rules.doc_number:
        match = pattern.search(line)
        if match and len(line) - len(match.group()) <= rules.doc_number_max_other:
            return _WHITE.sub("", match.group())
    return None


def _authority_of(line: str, rules: _Rules) -> str | None:
    """The issuing body(ies) a line names, when the line is nothing but that."""
    if parse_marker(line):
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
        rf"([{CN_DIGITS}]{{4}})\s*年\s*([一二三四五六七八九十]{{1,3}})\s*月\s*([一二三四五六七八九十]{{1,3}})\s*日"
    ),
    re.compile(r"(?<![0-9])([12][0-9]{3})\s*[-./]\s*([0-9]{1,2})\s*[-./]\s*([0-9]{1,2})(?![0-9])"),
)


def _find_date(text: str) -> tuple[dt.date, re.Match[str]] | None:
    normal = unicodedata.normalize("NFKC", text)
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(normal):
            year, month, day = match.groups()
            if not year.isdigit():
                year = "".join(str(CN_DIGIT_VALUES[c]) for c in year)
            try:
                values = [int(year)] + [
                    int(v) if v.isdigit() else cn_to_int(v) for v in (month, day)
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
        and parse_marker(line) is None
        and not any(word in line for word in rules.salutation_never)
    )


def _starts_body(line: _Line) -> bool:
    return bool(
        parse_marker(line.text) or _HAS_SENTENCE_END.search(line.text) or len(line.text) > 100
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
        names: list[str | None] = []
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
        if paragraph.heading or (_heading_like(text) and not parse_marker(text) and len(text) >= 6):
            return _tidy_title(text, rules), "heading"
    return "", "none"
