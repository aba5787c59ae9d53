"""Text normalisation shared by questions and clauses before tokenising.

Only what is matched gets normalised; shown text stays verbatim.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

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


def strip_white(text: str) -> str:
    """Text with all white space removed: how verbatim quotes are compared with sources."""
    return "".join(text.split())
