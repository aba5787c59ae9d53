"""Cutting verbatim excerpts out of clauses and writing their citations.

An excerpt is always a contiguous piece of the clause text (itself verbatim from the source), so
a quote is verbatim or it is not shown; cuts are marked with …….
"""

from __future__ import annotations

import contextlib
import re
import tomllib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

from bot.types import Answer
from retrieval.search import KIND_BOOST, TITLE_WORD_DISCOUNT, Query, get_question_kinds
from retrieval.store import StoredClause, StoredDocument
from retrieval.tokenize import PolicyTokenizer
from zhtext.normalize import normalize_text

SETTINGS_PATH = Path(__file__).resolve().parent / "data" / "compose.toml"
_SENTENCE = re.compile(r"[^。！？；!?;]+(?:[。！？；!?;]+[”’」』）)]*)?")
_PHRASE = re.compile(r"[^，,、：:]+(?:[，,、：:])?")
# sentences (and phrases) whose normalised text and words are kept: the clauses shown again and
# again (the best answers to common questions) are not normalised and cut by jieba each time;
# some 2 KB a sentence (8 MB)
SENTENCES_KEPT = 4096


@dataclass(frozen=True, slots=True)
class ComposeRules:
    excerpt_max_chars: int
    excerpt_min_chars: int
    cut_marker: str
    quantity_cues: tuple[str, ...]
    amount: re.Pattern[str]
    citation: dict[str, str]  # how a citation line is written ([citation] in compose.toml)


@lru_cache(maxsize=1)
def compose_rules(path: Path = SETTINGS_PATH) -> ComposeRules:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    return ComposeRules(
        excerpt_max_chars=int(raw["excerpt_max_chars"]),
        excerpt_min_chars=int(raw["excerpt_min_chars"]),
        cut_marker=raw["cut_marker"],
        quantity_cues=tuple(raw["quantity_cues"]),
        amount=re.compile(raw["amount_pattern"]),
        citation={key: str(value) for key, value in raw["citation"].items()},
    )


@dataclass(frozen=True, slots=True)
class Excerpt:
    text: str  # with cut markers
    emphasis: tuple[tuple[int, int], ...]


class ExcerptCutter:
    """Chooses the sentences of a clause that answer a question, within a length budget."""

    def __init__(self, tokenizer: PolicyTokenizer, rules: ComposeRules | None = None) -> None:
        self.tokenizer = tokenizer
        self.rules = rules or compose_rules()
        self.kinds = get_question_kinds()
        # (text, the tokenizer's generation) -> its normalised text, and its words when they
        # were needed (see ``_words``); the least recently used let go first
        self._kept: OrderedDict[tuple[str, int], tuple[str, frozenset[str] | None]] = OrderedDict()

    def asks_quantity(self, question: str) -> bool:
        return any(cue in question for cue in self.rules.quantity_cues)

    def cut(
        self,
        clause_text: str,
        query: Query,
        *,
        question: str,
        seams: Sequence[int] = (),
        context: frozenset[str] = frozenset(),
    ) -> Excerpt:
        """The excerpt of ``clause_text`` that answers; ``context`` are the words of the
        clause's document title, which say which document rather than which sentence."""
        wants_amount = self.asks_quantity(question)
        spans = _spans(_SENTENCE, clause_text)
        scores = [self._score(clause_text[a:b], query, wants_amount, context) for a, b in spans]
        limit = self.rules.excerpt_max_chars
        best = max(range(len(spans)), key=lambda i: (scores[i], -i)) if spans else 0
        if not spans:
            start, end = 0, len(clause_text)
        elif spans[best][1] - spans[best][0] > limit:
            start, end = self._inside_sentence(clause_text, spans[best], query, wants_amount)
        else:
            start, end = self._grow(spans, scores, best, clause_text)
        return self._finish(clause_text, start, end, query, seams)

    def _score(
        self,
        sentence: str,
        query: Query,
        wants_amount: bool,
        context: frozenset[str] = frozenset(),
    ) -> float:
        """What a sentence answers: the question's words it holds, by information, more when
        it holds what the question asks for (a date for 什么时候, a phone for 电话, an amount)."""
        normalized, tokens = self._words(sentence, query)
        score = 0.0
        for term in query.content_terms:
            if query.alternatives[term] & tokens or (
                query.parts[term] and query.parts[term] <= tokens
            ):
                titled = bool(query.alternatives[term] & context)
                score += query.information[term] * (1.0 - TITLE_WORD_DISCOUNT * titled)
        if score > 0 and wants_amount and self.rules.amount.search(sentence):
            score *= 1.5
        for kind in query.kinds:
            pattern = self.kinds.patterns.get(kind)
            if pattern is not None and pattern.search(normalized):
                score = (score + 1.0) * (1.0 + KIND_BOOST)
        return score

    def _words(self, text: str, query: Query) -> tuple[str, frozenset[str]]:
        """``text`` normalised, and its words: none when the normalised text holds none of
        the question's words (nor all the parts of one), as a word is always a piece of the
        text it is cut from (``tests/bot/test_compose.py`` holds the tokenizer to it), so
        jieba cuts only the sentences that may answer. Kept (see ``SENTENCES_KEPT``); a
        tokenizer taught words (a reload adds place names and titles) may cut differently:
        its count of domain words, which grows with every word taught, is part of the key."""
        key = (text, len(self.tokenizer.domain_words))
        kept = self._kept.get(key)
        if kept is None:
            normalized, words = normalize_text(text), None
        else:
            normalized, words = kept
            with contextlib.suppress(KeyError):  # another thread let go of it meanwhile
                self._kept.move_to_end(key)
        if words is None:
            if not _may_hold(query, normalized):
                if kept is None:
                    self._keep(key, (normalized, None))
                return normalized, frozenset()
            words = frozenset(self.tokenizer.tokens(normalized, normalized=True))
            self._keep(key, (normalized, words))
        return normalized, words

    def _keep(self, key: tuple[str, int], value: tuple[str, frozenset[str] | None]) -> None:
        """``_kept[key] = value``, the least recently used let go when ``SENTENCES_KEPT`` are."""
        if key not in self._kept and len(self._kept) >= SENTENCES_KEPT:
            with contextlib.suppress(KeyError):  # another thread emptied it meanwhile
                self._kept.popitem(last=False)
        self._kept[key] = value

    def _grow(
        self, spans: list[tuple[int, int]], scores: list[float], best: int, text: str
    ) -> tuple[int, int]:
        """Add neighbouring sentences that also answer (or give context) while they fit."""
        limit, minimum = self.rules.excerpt_max_chars, self.rules.excerpt_min_chars
        first = last = best
        while True:
            length = spans[last][1] - spans[first][0]
            options = []
            if last + 1 < len(spans):
                options.append((scores[last + 1], 1, last + 1))
            if first > 0:
                options.append((scores[first - 1], 0, first - 1))
            grown = False
            for score, _side, index in sorted(options, reverse=True):
                added = spans[index][1] - spans[index][0]
                if length + added > limit or (score <= 0 and length >= minimum):
                    continue
                if index > last:
                    last = index
                else:
                    first = index
                grown = True
                break
            if not grown:
                return spans[first][0], spans[last][1]

    def _inside_sentence(
        self, text: str, sentence: tuple[int, int], query: Query, wants_amount: bool
    ) -> tuple[int, int]:
        """A sentence longer than the budget: the best window of its phrases."""
        phrases = [
            (a + sentence[0], b + sentence[0])
            for a, b in _spans(_PHRASE, text[sentence[0] : sentence[1]])
        ]
        scores = [self._score(text[a:b], query, wants_amount) for a, b in phrases]
        limit = self.rules.excerpt_max_chars
        best_window, best_score = (phrases[0][0], phrases[0][1]), -1.0
        for i in range(len(phrases)):
            total = 0.0
            for j in range(i, len(phrases)):
                if phrases[j][1] - phrases[i][0] > limit:
                    break
                total += scores[j]
                if total > best_score:
                    best_window, best_score = (phrases[i][0], phrases[j][1]), total
        return best_window

    def _finish(
        self, text: str, start: int, end: int, query: Query, seams: Sequence[int]
    ) -> Excerpt:
        """Trim, and cut at seams (removed markup), marking every cut with ……."""
        bounds = [start, *(s for s in seams if start < s < end), end]
        pieces = list(pairwise(bounds))
        while len(pieces) > 1 and _trivial(text[pieces[0][0] : pieces[0][1]]):
            pieces.pop(0)
        while len(pieces) > 1 and _trivial(text[pieces[-1][0] : pieces[-1][1]]):
            pieces.pop()
        marker = self.rules.cut_marker
        parts: list[str] = []
        for index, (a, b) in enumerate(pieces):
            piece = text[a:b].strip()
            if index > 0:
                piece = piece.lstrip(_LEADING_PUNCTUATION)
            if piece:
                parts.append(piece)
        first, last = pieces[0][0], pieces[-1][1]
        prefix = marker if text[:first].strip() else ""
        suffix = marker if text[last:].strip() else ""
        excerpt = prefix + marker.join(parts) + suffix
        return Excerpt(excerpt, self._emphasis(excerpt, query))

    def _emphasis(self, excerpt: str, query: Query) -> tuple[tuple[int, int], ...]:
        """Amounts, and the question's words, in the excerpt."""
        ranges = [(m.start(), m.end()) for m in self.rules.amount.finditer(excerpt)]
        lowered = excerpt.lower()
        for term in query.content_terms:
            for word in query.alternatives[term]:
                if len(word) < 2:
                    continue
                start = lowered.find(word)
                while start != -1:
                    ranges.append((start, start + len(word)))
                    start = lowered.find(word, start + len(word))
        return _merge(ranges)


_LEADING_PUNCTUATION = "。，、；：！？,.;:!? "


def _may_hold(query: Query, normalized: str) -> bool:
    """Whether a normalised text may have one of ``query``'s words among its words: one of
    a word's alternatives is in it, or all its parts are."""
    for term in query.content_terms:
        if any(word in normalized for word in query.alternatives[term]):
            return True
        parts = query.parts[term]
        if parts and all(part in normalized for part in parts):
            return True
    return False


def _trivial(piece: str) -> bool:
    """A piece too small to quote on its own: punctuation, or an enumerator such as 三是."""
    return sum(ch.isalnum() for ch in piece) <= 2


def _spans(pattern: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in pattern.finditer(text) if m.group(0).strip()]


def _merge(ranges: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def chinese_date(iso_date: str | None) -> str | None:
    """2021-06-09 → 2021年6月9日."""
    if not iso_date:
        return None
    year, month, day = iso_date.split("-")
    written = compose_rules().citation["date"]
    return written.format(year=int(year), month=int(month), day=int(day))


def citation(document: StoredDocument, section: str) -> str:
    """authority《title》doc_number, date, section, and where it applies — a document with no
    number by title and date; one with no title by its number or issuer; its place always,
    so an answer from 广东省 or a national document (or of unknown place) says so."""
    written = compose_rules().citation
    title = written["title"].format(title=document.title) if document.title else ""
    head = f"{document.authority or ''}{title}" or written["untitled"]
    parts = [head + (document.doc_number or "")]
    date = chinese_date(document.date)
    if date:
        parts.append(date)
    if section:
        parts.append(section)
    parts.append(written["applies"].format(place=document.place_label))
    return written["separator"].join(parts)


def answer_of(
    document: StoredDocument,
    clause: StoredClause,
    excerpt: str,
    emphasis: tuple[tuple[int, int], ...],
    score: float,
    matched: tuple[str, ...] = (),
) -> Answer:
    """A clause as an answer: the excerpt shown, the whole clause, and its citation."""
    return Answer(
        doc_number=document.doc_number,
        title=document.title,
        authority=document.authority or "",
        date=document.date,
        city=document.city,
        section=clause.section,
        excerpt=excerpt,
        passage=clause.text,
        passage_id=clause.id,
        score=score,
        citation=citation(document, clause.section),
        emphasis=emphasis,
        source=document.source,
        level=document.level,
        province=document.province,
        district=document.district,
        matched=matched,
    )
