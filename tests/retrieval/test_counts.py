"""Term counts: made a slice of clauses at a time (numpy) or by a counting sort (the compiled
module), they equal the counts of one sort of every (term, clause) key."""

from __future__ import annotations

import random

import numpy as np
import pytest

from retrieval import postings
from retrieval.counts import TermCounts
from retrieval.index import _transpose
from retrieval.term_ids import TokenIds


def _random_corpus(seed: int, clauses: int = 300) -> TokenIds:
    rng = random.Random(seed)
    return TokenIds.of(
        [rng.choice("abcdefghij") + rng.choice("xyz") for _ in range(rng.randint(0, 30))]
        for _ in range(clauses)
    )


@pytest.mark.parametrize("slice_tokens", [1, 7, 50, 4_000_000])
def test_counts_are_those_of_one_sort(way: bool, slice_tokens: int) -> None:
    encoded = _random_corpus(slice_tokens)
    n_docs, n_terms = len(encoded.offsets) - 1, len(encoded.vocabulary)
    doc = np.repeat(np.arange(n_docs, dtype=np.int64), np.diff(encoded.offsets))
    keys, tf = np.unique(encoded.ids.astype(np.int64) * n_docs + doc, return_counts=True)
    counts = TermCounts.from_ids(encoded.ids, encoded.offsets, n_terms, slice_tokens)
    assert np.array_equal(counts.indices, keys % n_docs) and np.array_equal(counts.tf, tf)
    assert np.array_equal(counts.df, np.bincount(keys // n_docs, minlength=n_terms))
    assert np.array_equal(counts.doc_len, np.diff(encoded.offsets))
    assert counts.indices.dtype == np.int32 and counts.tf.dtype == np.uint16
    assert counts.indptr.dtype == np.int64 and counts.doc_len.dtype == np.int32


def test_the_compiled_counts_and_forward_rows_have_numpy_s_arrays(
    way: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index is the same, bit for bit and type for type, whichever way built it."""
    encoded = _random_corpus(11, clauses=2_000)
    n_terms = len(encoded.vocabulary) + 3  # terms no clause holds: empty rows
    counts = TermCounts.from_ids(encoded.ids, encoded.offsets, n_terms)
    forward = _transpose(counts, len(encoded.offsets) - 1)
    monkeypatch.setattr(postings, "compiled", not way)
    other = TermCounts.from_ids(encoded.ids, encoded.offsets, n_terms)
    other_forward = _transpose(other, len(encoded.offsets) - 1)
    for mine, theirs in [
        (counts.indptr, other.indptr),
        (counts.indices, other.indices),
        (counts.tf, other.tf),
        (counts.df, other.df),
        *zip(forward, other_forward, strict=True),
    ]:
        assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs)
    # each clause's forward row: its distinct terms, ascending
    starts = encoded.offsets
    for clause in (0, 7, 1_999):
        row = forward[1][forward[0][clause] : forward[0][clause + 1]]
        assert row.tolist() == sorted(set(encoded.ids[starts[clause] : starts[clause + 1]]))


def test_no_tokens_give_empty_rows(way: bool) -> None:
    counts = TermCounts.from_ids(np.zeros(0, np.int32), np.array([0, 0, 0]), 3)
    assert counts.indptr.tolist() == [0, 0, 0, 0] and len(counts.indices) == 0
    indptr, terms = _transpose(counts, 2)
    assert indptr.tolist() == [0, 0, 0] and len(terms) == 0


def test_a_term_counted_more_than_a_uint16_holds_keeps_its_count(way: bool) -> None:
    ids = np.zeros(70_000, dtype=np.int32)  # one clause, one word, 70,000 times
    counts = TermCounts.from_ids(ids, np.array([0, 70_000]), 1, slice_tokens=1_000)
    assert counts.tf.dtype == np.uint32 and counts.tf.tolist() == [70_000]


def test_a_count_of_exactly_the_uint16_limit_stays_uint16(way: bool) -> None:
    ids = np.zeros(2**16 - 1, dtype=np.int32)
    counts = TermCounts.from_ids(ids, np.array([0, 2**16 - 1]), 1)
    assert counts.tf.dtype == np.uint16 and counts.tf.tolist() == [2**16 - 1]


@pytest.mark.parametrize("bad", [-1, 5])
def test_a_term_id_outside_the_vocabulary_is_refused(way: bool, bad: int) -> None:
    ids = np.array([0, 1, bad, 2], dtype=np.int32)
    with pytest.raises(IndexError):
        TermCounts.from_ids(ids, np.array([0, 2, 4]), 5)


def test_a_compiled_row_past_its_end_is_refused_not_written() -> None:
    """Called with a row pointer that does not fit the tokens, the module raises rather than
    write outside the arrays it was given."""
    if not postings.compiled:
        pytest.skip("the compiled module is not built")
    from retrieval import _postings

    ids = np.array([0, 0, 1, 1], dtype=np.int32)
    offsets = np.array([0, 1, 2, 3, 4], dtype=np.int64)
    too_short = np.array([0, 1, 2], dtype=np.int64)  # term 0 is in two clauses, not one
    indices, tf = np.zeros(2, np.int32), np.zeros(2, np.uint16)
    with pytest.raises(IndexError):
        _postings.place_terms(ids, offsets, too_short, indices, tf)
    with pytest.raises(ValueError):  # offsets that go back
        _postings.count_terms(ids, np.array([0, 3, 2, 4]), np.zeros(2, np.int64))
    with pytest.raises(TypeError):  # int64 ids would be misread as int32
        _postings.count_terms(ids.astype(np.int64), offsets, np.zeros(2, np.int64))
    with pytest.raises(IndexError):  # a clause past the forward rows
        _postings.transpose(
            np.array([0, 1], np.int64),
            np.array([9], np.int32),
            np.array([0, 1], np.int64),
            np.zeros(1, np.int32),
        )


def test_memory_does_not_grow_with_slices_times_vocabulary(way: bool) -> None:
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
