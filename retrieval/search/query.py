"""A question made ready for retrieval: its words and their weights, synonyms, what it asks for.

Everything here depends on the question alone (and the data files), not on a corpus: the same
``Query`` is scored against whichever index is live.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from retrieval.search.chars import char_terms
from retrieval.search.scanning import scanning
from retrieval.tokenize import DATA_DIR, PolicyTokenizer
from zhtext.normalize import normalize_text

SYNONYM_WEIGHT = 0.5  # a synonym counts half as much as the word the question used


@dataclass(frozen=True, slots=True)
class Query:
    """A question made ready for retrieval: weighted terms, their informativeness, the filter."""

    terms: dict[str, float]  # term -> weight (1 for the question's words, less for synonyms)
    content_terms: list[str]  # the question's own informative words, in order
    information: dict[str, float]  # content term -> how much it says (general-language surprisal)
    alternatives: dict[str, frozenset[str]]  # content term -> itself and its synonyms
    parts: dict[str, frozenset[str]]  # content term -> its search-mode sub-words (融资, 租赁)
    intents: dict[str, float]  # label -> score (no "other")
    chars: dict[str, float] = field(default_factory=dict)  # characters and character pairs
    kinds: tuple[str, ...] = ()  # what it asks for: deadline, contact, amount, condition …
    emphasis: dict[str, float] = field(default_factory=dict)  # content term -> 1, or less in
    # the parts that introduce the asker (我是东莞做模具的小老板)


class Synonyms:
    """Groups of interchangeable words, from ``synonyms.toml``."""

    def __init__(self, path: Path = DATA_DIR / "synonyms.toml") -> None:
        groups = tomllib.loads(path.read_text(encoding="utf-8"))["groups"]
        self._of: dict[str, frozenset[str]] = {}
        for group in groups:
            words = frozenset(normalize_text(word) for word in group)
            for word in words:
                self._of[word] = self._of.get(word, frozenset()) | words

    def of(self, term: str) -> frozenset[str]:
        return self._of.get(term, frozenset({term}))


@lru_cache(maxsize=1)
def get_synonyms() -> Synonyms:
    return Synonyms()


class QuestionKinds:
    """What a question asks for (a deadline, a contact, an amount …): question_kinds.toml."""

    def __init__(self, path: Path = DATA_DIR / "question_kinds.toml") -> None:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        context = raw.pop("context", {})
        opening = raw.pop("opening", {})
        self.opening_factor = float(opening.get("factor", 1.0))
        self.header_factor = float(opening.get("header_factor", self.opening_factor))
        self.opening_exempt = frozenset(opening.get("exempt", ()))
        self.cues = {kind: tuple(entry["cues"]) for kind, entry in raw.items()}
        self.patterns = {kind: re.compile(entry["clause"]) for kind, entry in raw.items()}
        # the same matches, led by their first characters (see ``scanning``): for ``masks``
        self._scanned = [scanning(pattern) for pattern in self.patterns.values()]
        self.openers = tuple(normalize_text(o) for o in context.get("openers", ()))
        self.context_weight = float(context.get("weight", 0.5))

    def of(self, normalized: str) -> tuple[str, ...]:
        return tuple(kind for kind, cues in self.cues.items() if any(c in normalized for c in cues))

    def masks(self, texts: Sequence[str]) -> np.ndarray:
        """Per kind (a row, in ``patterns``' order) and text, whether the text matches."""
        listed = list(texts)  # each pattern reads every text: decode a packed column once
        rows = [[bool(p.search(t)) for t in listed] for p in self._scanned]
        return np.array(rows, dtype=bool).reshape(len(rows), len(listed))

    def context_parts(self, normalized: str) -> list[str]:
        """The question's parts that introduce the asker rather than ask."""
        parts = re.split(r"[，,。.？?！!；;：:]", normalized)
        return [p for p in parts if p.strip().startswith(self.openers)]


@lru_cache(maxsize=1)
def get_question_kinds() -> QuestionKinds:
    return QuestionKinds()


class QuestionForms:
    """Removes what only makes a sentence a question (怎么回事, 能不能, 几个)."""

    def __init__(self, path: Path = DATA_DIR / "question_forms.toml") -> None:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        phrases = sorted((normalize_text(p) for p in raw["phrases"]), key=len, reverse=True)
        alternatives = [re.escape(p) for p in phrases] + list(raw["patterns"])
        self._pattern = re.compile("|".join(f"(?:{a})" for a in alternatives))

    def strip(self, normalized: str) -> str:
        return self._pattern.sub(" ", normalized)


class QueryBuilder:
    """Turns a question into a ``Query``: tokens, synonyms, information weights."""

    def __init__(self, tokenizer: PolicyTokenizer, synonyms: Synonyms) -> None:
        self.tokenizer = tokenizer
        self.synonyms = synonyms
        self.question_forms = QuestionForms()
        self.kinds = get_question_kinds()

    def information(self, term: str) -> float:
        """Surprisal of a word in general Chinese: 公积金 says more than 企业; unknown says most."""
        frequency = self.tokenizer.general_frequency(term)
        return math.log(self.tokenizer.general_total / (frequency + 1.0))

    def build(
        self,
        text: str,
        *,
        ignore: Iterable[str] = (),
        intents: dict[str, float] | None = None,
    ) -> Query:
        """The query of ``text``; ``intents`` are the topics it is about (label -> score)."""
        ignored = sorted({normalize_text(word) for word in ignore}, key=len, reverse=True)
        normalized = normalize_text(text)
        kinds = self.kinds.of(normalized)
        context = " ".join(self.kinds.context_parts(normalized))
        text = self.question_forms.strip(normalized)
        for place in ignored:  # 南头镇 goes whole, not 南头 leaving a stray 镇
            text = text.replace(place, " ")
        content: list[str] = []
        for token in self.tokenizer.tokens(text, normalized=True):
            token = _without_place(token, ignored)
            if token and token not in content and token not in self.tokenizer.stopwords:
                content.append(token)
        terms: dict[str, float] = {}
        for token in content:
            terms[token] = terms.get(token, 0.0) + 1.0
            for synonym in sorted(self.synonyms.of(token)):  # one order: the same sum every run
                if synonym not in content:
                    terms[synonym] = max(terms.get(synonym, 0.0), SYNONYM_WEIGHT)
        # jieba's search mode gives 融资, 租赁 and 融资租赁: all are searched, but what the
        # question says is counted once, by its longest words
        longest = [t for t in content if not any(t != o and t in o for o in content)]
        asking = normalized.replace(context, " ") if context else normalized
        emphasis = {
            t: self.kinds.context_weight for t in longest if t in context and t not in asking
        }
        chars: dict[str, float] = {}
        for term in char_terms(text):
            chars[term] = chars.get(term, 0.0) + 1.0
        return Query(
            terms=terms,
            content_terms=longest,
            information={token: self.information(token) for token in longest},
            alternatives={token: self.synonyms.of(token) for token in longest},
            parts={t: frozenset(o for o in content if o != t and o in t) for t in longest},
            intents=dict(intents or {}),
            chars=chars,
            kinds=kinds,
            emphasis=emphasis,
        )


def _without_place(token: str, places: list[str]) -> str:
    """广州市政府 → 政府 when 广州市 is a place of the question; a bare place name → ''."""
    for place in places:
        if token == place or (len(token) > 1 and token in place):
            return ""
        if token.startswith(place):
            return token[len(place) :]
    return token
