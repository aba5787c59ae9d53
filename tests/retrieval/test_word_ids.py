"""Words as term ids by pieces: the ids ``PolicyTokenizer.encode`` gives, text by text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval import term_ids, word_ids
from retrieval.corpus import read_corpus
from retrieval.term_ids import TokenIds, first_seen_ids
from retrieval.tokenize import get_tokenizer
from zhtext.normalize import normalize_texts

ROOT = Path(__file__).resolve().parents[2]


def _texts() -> list[str]:
    documents = read_corpus(ROOT / "seeds").documents
    raw = [" ".join((*c.headings, c.text)) for d in documents for c in d.clauses]
    # numbers with units, ratios, codes and grades among the words; an empty text
    extra = ["按照 500 万元的25%给予补贴，比例1:1，5g基站a档", "", "。，；"]
    return normalize_texts(raw + extra)


def _by_pieces(texts: list[str], batches: int) -> TokenIds:
    tokenizer = get_tokenizer()
    size = max(1, len(texts) // batches)
    parts = [word_ids.piece_ids(tokenizer, texts[i : i + size]) for i in range(0, len(texts), size)]
    vocabulary: dict[str, int] = {}
    merged = TokenIds()
    for part in parts:  # batches merged in order, piece keys in first-seen order
        keys = part.terms()
        renumber = [vocabulary.setdefault(key, len(vocabulary)) for key in keys]
        for start, end in zip(part.offsets[:-1], part.offsets[1:], strict=True):
            merged.add_ids([renumber[i] for i in part.ids[start:end].tolist()])
    merged.vocabulary = vocabulary
    return word_ids.words_of_pieces(merged, word_ids.piece_words(tokenizer, merged.terms()))


@pytest.mark.parametrize("batches", [1, 7])
def test_words_laid_out_from_pieces_are_the_tokenizers_ids(batches: int) -> None:
    texts = _texts()
    expected = get_tokenizer().encode(texts, TokenIds())
    laid_out = _by_pieces(texts, batches)
    assert laid_out.terms() == expected.terms()
    assert np.array_equal(laid_out.ids, expected.ids)
    assert np.array_equal(laid_out.offsets, expected.offsets)
    assert "500万" in laid_out.terms() and "5g" in laid_out.terms()


def test_pieces_laid_out_a_slice_at_a_time_give_the_same_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = _texts()
    whole = _by_pieces(texts, 1)
    monkeypatch.setattr(word_ids, "_SLICE", 5)
    sliced = _by_pieces(texts, 1)
    assert np.array_equal(sliced.ids, whole.ids) and sliced.terms() == whole.terms()


def _first_seen_reference(keys: list[int]) -> tuple[list[int], list[int]]:
    order: dict[int, int] = {}
    ids = [order.setdefault(key, len(order)) for key in keys]
    return ids, list(order)


@pytest.mark.parametrize("direct_keys", [1 << 25, 10])
def test_first_seen_ids_by_table_and_by_sorting(
    monkeypatch: pytest.MonkeyPatch, direct_keys: int
) -> None:
    monkeypatch.setattr(term_ids, "_DIRECT_KEYS", direct_keys)
    rng = np.random.default_rng(3)
    for bound, count in ((50, 2_000), (10_000, 300), (1, 5), (7, 0)):
        keys = rng.integers(0, bound, count).astype(np.int32)
        ids, seen = first_seen_ids(keys, bound, chunk=64)
        expected_ids, expected_seen = _first_seen_reference(keys.tolist())
        assert ids.tolist() == expected_ids and seen.tolist() == expected_seen
