"""Term counts made a slice of clauses at a time equal the counts made all at once."""

from __future__ import annotations

import random

import numpy as np
import pytest

from retrieval.counts import TermCounts
from retrieval.term_ids import TokenIds


@pytest.mark.parametrize("slice_tokens", [1, 7, 50, 4_000_000])
def test_slices_give_the_counts_of_one_sort(slice_tokens: int) -> None:
    rng = random.Random(slice_tokens)
    corpus = [
        [rng.choice("abcdefghij") + rng.choice("xyz") for _ in range(rng.randint(0, 30))]
        for _ in range(300)
    ]
    encoded = TokenIds.of(corpus)
    n_docs, n_terms = len(corpus), len(encoded.vocabulary)
    doc = np.repeat(np.arange(n_docs, dtype=np.int64), np.diff(encoded.offsets))
    keys, tf = np.unique(encoded.ids.astype(np.int64) * n_docs + doc, return_counts=True)
    counts = TermCounts.from_ids(encoded.ids, encoded.offsets, n_terms, slice_tokens)
    assert np.array_equal(counts.indices, keys % n_docs) and np.array_equal(counts.tf, tf)
    assert np.array_equal(counts.df, np.bincount(keys // n_docs, minlength=n_terms))
    assert np.array_equal(counts.doc_len, [len(c) for c in corpus])
    assert counts.indices.dtype == np.int32 and counts.tf.dtype == np.uint16


def test_no_tokens_give_empty_rows() -> None:
    counts = TermCounts.from_ids(np.zeros(0, np.int32), np.array([0, 0, 0]), 3)
    assert counts.indptr.tolist() == [0, 0, 0, 0] and len(counts.indices) == 0


def test_a_term_counted_more_than_a_uint16_holds_keeps_its_count() -> None:
    ids = np.zeros(70_000, dtype=np.int32)  # one clause, one word, 70,000 times
    counts = TermCounts.from_ids(ids, np.array([0, 70_000]), 1, slice_tokens=1_000)
    assert counts.tf.dtype == np.uint32 and counts.tf.tolist() == [70_000]


def test_memory_does_not_grow_with_slices_times_vocabulary() -> None:
    import tracemalloc

    rng = np.random.default_rng(3)
    n_terms = 2_000_000  # a large vocabulary (character pairs of a big library)
    ids = rng.integers(0, n_terms, size=50_000, dtype=np.int32)
    offsets = np.arange(0, 50_001, 100)
    tracemalloc.start()
    counts = TermCounts.from_ids(ids, offsets, n_terms, slice_tokens=1_000)  # 50 slices
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert int(counts.df.sum()) == len(
        np.unique(ids.astype(np.int64) * 500 + offsets[:-1].repeat(100) // 100)
    )
    assert peak < 8 * 16 * n_terms  # a few vocabulary-sized arrays, not one per slice
