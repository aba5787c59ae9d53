"""jieba's loops compiled (retrieval/_segment.c): the words of real pages are jieba's own."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from jieba import finalseg

from retrieval import segment
from retrieval.corpus import read_corpus
from retrieval.tokenize import PolicyTokenizer
from zhtext.normalize import normalize_text

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    ROOT / "seeds",
    Path(__file__).parent / "fixtures",
    Path(__file__).parent / "fixtures" / "real",
]

needs_module = pytest.mark.skipif(not segment.compiled, reason="retrieval._segment not built")


def page_texts() -> list[str]:
    texts = []
    for folder in PAGES:
        for document in read_corpus(folder).documents:
            texts.extend(normalize_text(c.text) for c in document.clauses)
    return texts


@needs_module
def test_real_pages_are_cut_into_jiebas_own_words(monkeypatch: pytest.MonkeyPatch) -> None:
    tokenizer = PolicyTokenizer()
    tokenizer.add_words(["南山区", "专精特新"])  # words a corpus teaches it
    cutter = tokenizer._jieba
    assert isinstance(cutter, segment.Segmenter) and type(cutter.FREQ) is dict
    texts = page_texts()
    assert sum(map(len, texts)) > 20_000
    compiled = [list(cutter.cut_for_search(text)) for text in texts]
    plain_words = [cutter.lcut(text, HMM=False) for text in texts]
    monkeypatch.setattr(segment, "compiled", False)
    assert [list(cutter.cut_for_search(text)) for text in texts] == compiled
    assert [cutter.lcut(text, HMM=False) for text in texts] == plain_words


@needs_module
def test_the_loops_give_jiebas_words_on_any_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Random text over a small dictionary (prefixes counted 0, ties of probability, runs no
    word covers, which jieba's HMM cuts)."""
    cutter = segment.Segmenter(dictionary=None)
    cutter.FREQ = {
        **{"a": 3, "ab": 0, "abc": 3, "abcd": 2, "b": 3, "bc": 6, "c": 2, "ca": 0, "cab": 1},
        **{"d": 0, "中": 5, "中国": 9, "国人": 4, "中国人": 7, "人民": 8, "国": 2},
    }
    cutter.total, cutter.initialized = 20, True
    rng = random.Random(1)
    sentences = ["".join(rng.choices("abcde中国人民", k=rng.randint(0, 14))) for _ in range(500)]
    searched = [list(cutter.cut_for_search(s)) for s in sentences]
    cut = [cutter.lcut(s) for s in sentences]
    monkeypatch.setattr(segment, "compiled", False)
    assert [list(cutter.cut_for_search(s)) for s in sentences] == searched
    assert [cutter.lcut(s) for s in sentences] == cut


@needs_module
def test_ways_of_equal_probability_are_broken_as_jieba_breaks_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Counts of 1 in a total of 1: every way through "abab" is as probable as any other;
    jieba's ``max`` of (probability, end) takes the longest word from each position."""
    cutter = segment.Segmenter(dictionary=None)
    cutter.FREQ = {"a": 1, "b": 1, "ab": 1, "aba": 1, "ba": 1}
    cutter.total, cutter.initialized = 1, True
    words = (cutter.lcut("abab"), cutter.lcut("abab", HMM=False), cutter.lcut_for_search("abab"))
    assert words[0] == ["aba", "b"]
    monkeypatch.setattr(segment, "compiled", False)
    assert (
        cutter.lcut("abab"),
        cutter.lcut("abab", HMM=False),
        cutter.lcut_for_search("abab"),
    ) == words


@needs_module
def test_runs_no_word_covers_are_cut_as_jiebas_hmm_cuts_them() -> None:
    """Runs of characters jieba's HMM labels (names, rare words), with letters and numbers
    between them, and the unknown runs of real pages."""
    rng = random.Random(4)
    characters = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动"
    characters += "鑫淼犇骉焱垚赟翀曌昇晟喆甪5g%.ab "
    runs = ["".join(rng.choices(characters, k=rng.randint(0, 16))) for _ in range(2000)]
    runs += [text for text in page_texts() if text]
    assert all(list(segment._hmm_cut(run)) == list(finalseg.cut(run)) for run in runs)


def test_a_dictionary_read_entry_by_entry_is_cut_by_jiebas_own_loops(tmp_path: Path) -> None:
    """Before a process loads jieba's dictionary whole (``retrieval.frequencies``), the lookups
    go through its table: jieba's Python loops read it, the same words come out."""
    lazy = PolicyTokenizer(cache_dir=tmp_path)  # the table is written on the first start
    lazy = PolicyTokenizer(cache_dir=tmp_path)
    assert type(lazy._jieba.FREQ) is not dict
    whole = PolicyTokenizer()
    for text in page_texts()[:40]:
        assert lazy.tokens(text, normalized=True) == whole.tokens(text, normalized=True)
    assert math.isclose(lazy.general_total, whole.general_total)
