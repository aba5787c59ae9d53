"""Typos of policy words in questions: 数子贷 → 数字贷, 上云上平抬 → 上云上平台.

A question's run of three to six Chinese characters that neither this corpus nor general
Chinese knows, one character away from exactly one word the corpus uses often (or the domain
dictionary lists), is read as that word. One substituted character only: a wrong character is
the typo people make with pinyin input; nothing shorter than three characters is touched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

MIN_CHARS, MAX_CHARS = 3, 6
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]{3,}")
_HAN_CHARS = re.compile(r"[\u4e00-\u9fff]+")


@dataclass(frozen=True, slots=True)
class Correction:
    wrong: str
    right: str


class TypoCorrector:
    """Corrects one-character typos against a vocabulary of known policy words.

    Only where the question falls apart: a run of single characters in its word cut (数/子/贷,
    平/抬), alone or with the word beside it (上云 + 上平抬), is looked up; the wrong character
    must lie in that run. A question whose words all exist is left alone.
    """

    def __init__(self, words: Iterable[str], *, known: Callable[[str], bool]) -> None:
        self._known = known  # words of general Chinese and of the corpus: never corrected
        self._by_key: dict[str, set[str]] = {}
        for word in words:
            if MIN_CHARS <= len(word) <= MAX_CHARS and _HAN_RUN.fullmatch(word):
                for key in _keys(word):
                    self._by_key.setdefault(key, set()).add(word)

    def correct(
        self,
        text: str,
        words: list[str],
        *,
        weak: Callable[[str], bool] = lambda w: False,
        particles: frozenset[str] = frozenset(),
    ) -> tuple[str, list[Correction]]:
        """``text`` with its typos replaced, and what was replaced; ``words`` is the text cut
        into words with no guessing of new ones (jieba without HMM); ``weak`` words (rare in
        Chinese and absent from the corpus, like 子贷) may be pieces of a typo too."""
        corrections: list[Correction] = []
        for first, last in _single_runs(words, weak, particles):
            before = words[first - 1] if first > 0 else ""
            after = words[last + 1] if last + 1 < len(words) else ""
            run = "".join(words[first : last + 1])
            span = before + run + after
            low, high = len(before), len(before) + len(run)  # a piece holds the whole run
            pieces = sorted(
                (
                    (start, end)
                    for start in range(low + 1)
                    for end in range(high, len(span) + 1)
                    if MIN_CHARS <= end - start <= MAX_CHARS
                ),
                key=lambda bounds: bounds[0] - bounds[1],  # longer pieces first
            )
            for start, end in pieces:
                piece = span[start:end]
                inside = (max(low, start) - start, min(high, end) - start)
                right = self._lookup(piece, inside[0], inside[1] - inside[0])
                if right is not None and right not in text:  # 按台套 beside 首台套: no typo
                    corrections.append(Correction(piece, right))
                    break
        for correction in corrections:
            text = text.replace(correction.wrong, correction.right)
        return text, corrections

    def _lookup(self, piece: str, offset: int, length: int) -> str | None:
        """The one known word ``piece`` is a typo of, the typo inside [offset, offset+length)."""
        if not (MIN_CHARS <= len(piece) <= MAX_CHARS) or not _HAN_RUN.fullmatch(piece):
            return None
        if self._known(piece):
            return None
        candidates: set[str] = set()
        for index in range(offset, offset + length):
            candidates |= self._by_key.get(_keys(piece)[index], set())
        candidates.discard(piece)
        return candidates.pop() if len(candidates) == 1 else None


def _single_runs(
    words: list[str], weak: Callable[[str], bool], particles: frozenset[str]
) -> list[tuple[int, int]]:
    """(first, last) word indices of runs of single Chinese characters and weak words, at
    least two characters long in all; particles (的, 了) end a run."""
    runs = []
    start = None
    for index, word in enumerate([*words, ""]):
        single = (
            bool(word)
            and word not in particles
            and _HAN_CHARS.fullmatch(word) is not None
            and (len(word) == 1 or weak(word))
        )
        if single and start is None:
            start = index
        elif not single and start is not None:
            if len("".join(words[start:index])) >= 2:
                runs.append((start, index - 1))
            start = None
    return runs


def _keys(word: str) -> list[str]:
    """The word with each character in turn replaced by a wildcard."""
    return [f"{word[:i]}?{word[i + 1 :]}" for i in range(len(word))]
