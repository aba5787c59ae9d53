"""Text normalisation shared by questions and clauses before tokenising.

Only what is matched gets normalised; shown text stays verbatim.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import opencc

_SPACE_NEAR_WIDE = re.compile(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])")
_SPACE_RUN = re.compile(r"\s+")
# 業(yè)務(wù): pinyin pasted after characters by annotated pages (same pattern as retrieval.view)
PINYIN_NOTE = re.compile(
    r"(?<=[\u3400-\u9fff])\([a-zü]{0,5}[āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ][a-zü]{0,5}\)"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\ufeff]")


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese (opencc), so 東莞補貼 finds 东莞补贴."""
    return _t2s().convert(text)


def normalize_text(text: str) -> str:
    """Full-width → half-width (NFKC), traditional → simplified, lower case, tidy white space.

    White space next to a Chinese character is dropped (PDF extraction scatters it: 最高 500 万);
    between ASCII words it shrinks to one space (iPhone 5G).
    """
    text = PINYIN_NOTE.sub("", text)
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub("", text)
    text = to_simplified(text)
    text = _SPACE_NEAR_WIDE.sub("", text)
    text = _SPACE_RUN.sub(" ", text)
    return text.strip().lower()


def normalize_texts(texts: Sequence[str]) -> list[str]:
    """``normalize_text`` of each text, each step run once over all of them (a corpus's
    100,000 clauses in a second rather than five), with exactly the same results.

    The texts are joined by a private-use character that no step changes or looks across:
    NFKC leaves it alone and composes nothing with it (it is a starter of no composition),
    opencc has no phrase holding it, it is not white space, control, Chinese or pinyin, and
    white space beside it is dropped here and stripped from a lone text.
    """
    joined = _BATCH_SEPARATOR.join(texts)
    if len(texts) < 2 or joined.count(_BATCH_SEPARATOR) != len(texts) - 1:
        return [normalize_text(text) for text in texts]  # a text holds the separator itself
    joined = _PINYIN_NOTE_FROM_PAREN.sub("", joined)
    joined = _nfkc(joined)
    joined = _CONTROL.sub("", joined)
    joined = to_simplified(joined)
    joined = _SPACE_ANY.sub(_tidy_space, joined)
    return [text.strip().lower() for text in joined.split(_BATCH_SEPARATOR)]


def _nfkc(text: str) -> str:
    """NFKC of a long text: each character NFKC changes replaced by its own NFKC (a few full-
    width signs in Chinese text), which keeps the text compatibility-equivalent; when the
    result is in NFKC (the quick check) it is the NFKC of the text, else NFKC finishes it."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    for code in np.flatnonzero(np.bincount(codes) if len(codes) else ()).tolist():
        char = chr(code)
        if code > 0x7F and (normal := unicodedata.normalize("NFKC", char)) != char:
            text = text.replace(char, normal)
    if unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", text)


def _tidy_space(run: re.Match[str]) -> str:
    """What ``_SPACE_NEAR_WIDE`` then ``_SPACE_RUN`` make of one run of white space: each
    decides by the run and the character on either side of it."""
    text, (start, end) = run.string, run.span()
    if run.group().isascii():  # nearly always: a non-ASCII neighbour drops it, else one space
        wide = (start > 0 and text[start - 1] > "\x7f") or (end < len(text) and text[end] > "\x7f")
        return "" if wide else " "
    before, after = text[start - 1 : start], text[end : end + 1]
    local = _SPACE_RUN.sub(" ", _SPACE_NEAR_WIDE.sub("", before + run.group() + after))
    return local[len(before) : len(local) - len(after)]


_BATCH_SEPARATOR = "\ue000"
# PINYIN_NOTE with its look-behind moved after the parenthesis: the same matches, found by
# looking for "(" instead of trying the pattern at every character
_PINYIN_NOTE_FROM_PAREN = re.compile(
    r"\((?<=[\u3400-\u9fff]\()[a-zü]{0,5}[āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ][a-zü]{0,5}\)"
)
_SPACE_ANY = re.compile(r"\s+")


def strip_white(text: str) -> str:
    """Text with all white space removed: how verbatim quotes are compared with sources."""
    return "".join(text.split())
