"""Line cleaning: Markdown markup, page chrome, information tables, breadcrumbs, link farms and
flattened pages go; metadata web pages print in such lines is noted first. Then hard line
breaks are repaired into paragraphs."""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from itertools import pairwise

from retrieval.reader.rules import (
    _ENDS_SENTENCE,
    _HAS_SENTENCE_END,
    _WHITE,
    _Hints,
    _Line,
    _Rules,
)
from zhtext.ladder import DIGITS, NUM, parse_marker
from zhtext.width import display_width

HEADING_MAX_CHARS = 60  # a numbered line longer than this is text, not a heading
LABEL_MAX_CHARS = 16  # a line this short ending in a colon labels the next (申报时间:)
FLAT_LINE_CHARS = 150  # a line this long may be a whole page flattened (see _unflatten)

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
            marker = parse_marker(line)
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
    rf"(?<=[。；;:：!?！？,，、\s])(?=(?:第{NUM}条|{NUM}[、，,]|{DIGITS}[.．、](?![0-9])))"
    rf"|(?=[（(]{NUM}[)）])"  # (一) is plain wherever it stands
)


def _unflatten(line: str) -> list[str]:
    """A long line that holds a whole numbered document (a web page flattened to one line)
    cut where its items start, for each kind of marker whose numbers run 1, 2, 3 … in it."""
    cuts: dict[str, list[tuple[int, int]]] = {}
    for match in _INLINE_ITEM.finditer(line):
        marker = parse_marker(line[match.start() :])
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


# -- Paragraphs ----------------------------------------------------------------------------


def _wrap_width(lines: Sequence[_Line]) -> int | None:
    """The width text was hard-wrapped at, if it was (most long lines end at the same width)."""
    widths = [display_width(line.text) for line in lines if not line.heading]
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
    if parse_marker(text):
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
    marker = parse_marker(previous.text)
    if marker is not None and not marker.rest.strip():
        return False  # "一、" alone: its title is on the next line
    if previous.heading or line.heading:
        return True
    if parse_marker(line.text):
        return True
    if previous.text.endswith((":", "：")) and len(previous.text) <= LABEL_MAX_CHARS:
        return bool(parse_marker(previous.text)) and len(previous.text) > LABEL_MAX_CHARS
    if _ENDS_SENTENCE.search(previous.text):
        return True
    if wrap is not None:
        return display_width(previous.text) < wrap - 8
    return _heading_like(previous.text)
