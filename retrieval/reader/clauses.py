"""Clauses: the body's paragraphs split along the document's own numbering ladder, each with
its section path and headings; then the seams where a clause's text is not continuous in the
file."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from retrieval.reader.furniture import HEADING_MAX_CHARS, _heading_like
from retrieval.reader.rules import _CLOSERS, _HAN, _SENTENCE_END, _Line, _Rules
from retrieval.types import ParsedClause
from zhtext.ladder import (
    HEADING_KINDS,
    INLINE_MARK,
    INT_TO_CN,
    OWNING_KINDS,
    Marker,
    cn_to_int,
    parse_marker,
)

MAX_CLAUSE_CHARS = 600  # longer paragraphs are split at sentence ends
LEAD_TITLE_MAX_CHARS = 40  # the lead sentence of an item counts as its title up to this length
LIST_ITEM_MAX_CHARS = 60  # items of a list (…如下：（一）…（二）…) this short join its opening line
MIN_INLINE_PART_CHARS = 30  # 一是…二是… parts shorter than this on average stay together


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
            None if p.heading and not parse_marker(p.text) else parse_marker(p.text)
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
            owned = any(level.kind in OWNING_KINDS for level in self.stack)
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
            numeral = INT_TO_CN.get(number, str(number))
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
        while self.stack and not self.stack[-1].heading and self.stack[-1].kind not in OWNING_KINDS:
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

    def _numbered(self, index: int, paragraph: _Line, marker: Marker) -> int:
        for position, level in enumerate(self.stack):
            if level.kind == marker.kind:
                del self.stack[position:]
                break
        content = marker.rest.strip()
        lead, remainder = _lead_sentence(content)
        if marker.kind in HEADING_KINDS or (
            not remainder
            and marker.kind not in OWNING_KINDS
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
            title = _strip_end(head if tail and head is not None else content)
            above = self._headings(self.stack)
            self.stack.append(
                _Level(marker.kind, marker.number, marker.canonical, title or None, True)
            )
            if tail:
                self._emit_with_inline(tail)
            elif not paragraph.heading and _is_sentence(content):
                self._emit(content, self.stack, headings=above)  # a full sentence: text too
            return 0
        lead_title: str | None = None
        if remainder and len(lead) <= LEAD_TITLE_MAX_CHARS and marker.kind not in OWNING_KINDS:
            lead_title = _strip_end(lead)
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
        level.title = lead_title  # the lead sentence heads the item's own 一是…二是… parts
        for number, segment in segments:
            if self.stack[-1].kind == "inline":
                self.stack.pop()
            numeral = INT_TO_CN.get(number or 0, str(number))
            self.stack.append(_Level("inline", number or 0, f"{numeral}是", None, heading=False))
            self._emit(segment, self.stack)
        return 0

    def _has_children(self, index: int, marker: Marker) -> bool:
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
    for match in INLINE_MARK.finditer(text):
        number = cn_to_int(match.group(1))
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
