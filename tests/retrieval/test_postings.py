"""The postings loops (``retrieval.postings``): the compiled module and numpy, to the bit."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval import postings


def test_the_compiled_module_is_built_by_the_install() -> None:
    """The README's install compiles it (a C compiler is on every machine it names); without
    it every question would take the slower numpy way, silently."""
    assert postings.compiled


def _rows(seed: int, dtype: type, index: type) -> list[tuple[np.ndarray, np.ndarray, float]]:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(12):
        size = int(rng.integers(0, 5000))
        clauses = np.sort(rng.choice(20_000, size, replace=False)).astype(index)
        data = (rng.random(size) * 7).astype(dtype)
        rows.append((clauses, data, float(rng.choice([1.0, 0.5, 2.0, 1.7, 3.0]))))
    return rows


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index", [np.int32, np.int64])
def test_rows_add_as_numpy_adds_each_weighed_row_and_are_located(
    way: bool, dtype: type, index: type
) -> None:
    """Row after row, ``np.add.at`` of ``(data * weight)`` widened: the plain sums' bits; a
    row's clauses found where they are, and not where they are not."""
    rows = _rows(7, dtype, index)
    expected = np.zeros(20_000)
    for clauses, data, weight in rows:
        np.add.at(expected, clauses.astype(np.intp), (data * weight).astype(np.float64))
    added = np.zeros(20_000)
    postings.add_rows(added, [(clauses, data, weight) for clauses, data, weight in rows])
    assert np.array_equal(added, expected)  # a block of clauses at a time, or row after row
    one_by_one = np.zeros(20_000)
    for row in rows:
        postings.add_rows(one_by_one, [row])
    assert np.array_equal(one_by_one, expected)
    positions = np.sort(np.random.default_rng(1).choice(20_000, 700, replace=False))
    for wanted in (positions, positions.astype(np.int32), positions[:1], positions[:0]):
        for clauses, _, _ in rows:
            slots = postings.locate(wanted, clauses)
            found = np.searchsorted(clauses, wanted).tolist()
            expected_slots = [
                row if row < len(clauses) and clauses[row] == p else -1
                for p, row in zip(wanted.tolist(), found, strict=True)
            ]
            assert slots.dtype == np.int64 and slots.tolist() == expected_slots


def test_rows_of_any_stride_are_read(way: bool) -> None:
    clauses, data = np.arange(0, 40, dtype=np.int32), np.linspace(1, 2, 40, dtype=np.float32)
    out = np.zeros(40)
    postings.add_rows(out, [(clauses[::2], data[::2], 0.5)])
    expected = np.zeros(40)
    expected[::2] = (data[::2] * 0.5).astype(np.float64)
    assert np.array_equal(out, expected)
    assert postings.locate(np.array([0, 2, 3, 38, 39]), clauses[::2]).tolist() == [0, 1, -1, 19, -1]


def test_a_clause_outside_the_sums_or_out_of_order_is_refused(way: bool) -> None:
    """A corrupt row raises (its sums are not to be used) instead of writing past them or
    adding a clause's rows out of their order."""
    good = (np.arange(0, 10_000, 3, dtype=np.int32), np.ones(3334, np.float32), 1.0)
    for bad in ([0, 10_000], [-1, 2], [3, 2**31 - 1], [5, 5], [9000, 5]):
        with pytest.raises(IndexError):
            row = (np.array(bad, np.int32), np.ones(2, np.float32), 1.0)
            postings.add_rows(np.zeros(10_000), [good, row])


def test_wrong_arrays_are_refused_not_misread(way: bool) -> None:
    out, ones = np.zeros(4), np.ones(2)
    with pytest.raises(TypeError):  # bytes as clause ids
        postings.add_rows(out, [(np.array([1, 2], np.uint8), ones, 1.0)])
    with pytest.raises(TypeError):  # float32 sums
        postings.add_rows(np.zeros(4, np.float32), [(np.array([1, 2]), ones, 1.0)])
    with pytest.raises(ValueError):  # of different lengths
        postings.add_rows(out, [(np.array([1, 2, 3]), ones, 1.0)])
    with pytest.raises(ValueError):  # positions must ascend
        postings.locate(np.array([3, 1]), np.array([1, 3]))
    with pytest.raises(ValueError):  # read-only sums
        frozen = np.zeros(4)
        frozen.flags.writeable = False
        postings.add_rows(frozen, [(np.array([1, 2]), ones, 1.0)])


@pytest.mark.parametrize("index", [np.int32, np.int64])
def test_the_fields_combine_as_numpy_adds_them_one_after_the_other(way: bool, index: type) -> None:
    rng = np.random.default_rng(3)
    words, chars = rng.random(5000) * 9, rng.random(5000) * 40
    titles, docs = rng.random(50) * 3, np.sort(rng.integers(0, 50, 5000)).astype(index)
    for with_chars, with_titles in ((True, True), (True, False), (False, True), (False, False)):
        expected = words.copy()
        if with_chars:
            expected += chars * 0.37
        if with_titles:
            expected += titles[docs]
        total = words.copy()
        postings.combine(
            total,
            chars if with_chars else None,
            0.37,
            titles if with_titles else None,
            docs,
            np.empty(5000),
        )
        assert np.array_equal(total, expected), (with_chars, with_titles)


def test_a_document_outside_the_titles_is_refused(way: bool) -> None:
    with pytest.raises(IndexError):
        postings.combine(np.zeros(3), None, 0.0, np.ones(2), np.array([0, 1, 2]), np.empty(3))
    with pytest.raises(ValueError):
        postings.combine(np.zeros(3), np.ones(2), 1.0, None, np.array([0, 1, 2]), np.empty(3))


def test_rows_across_the_blocks_edges_add_as_numpy_adds_them(way: bool) -> None:
    """Clauses on either side of each block of 4,096, a weight float32 rounds, the last block
    short, an empty row and an empty set of rows."""
    size = 8193
    edges = np.array([0, 4095, 4096, 4097, 8191, 8192], dtype=np.int32)
    rows = [
        (edges, np.linspace(0.1, 9.7, 6, dtype=np.float32), 0.1),
        (np.arange(4000, 4200, dtype=np.int64), np.full(200, 1 / 3), 1 / 7),
        (np.empty(0, dtype=np.int32), np.empty(0, dtype=np.float32), 2.0),
        (edges[1:4], np.ones(3, dtype=np.float32), 1.0),
    ]
    expected = np.zeros(size)
    for clauses, data, weight in rows:
        np.add.at(expected, clauses.astype(np.intp), (data * weight).astype(np.float64))
    added = np.zeros(size)
    postings.add_rows(added, rows)
    assert np.array_equal(added, expected)
    postings.add_rows(added, [])
    assert np.array_equal(added, expected)
    assert postings.locate(np.array([4095, 4096, 5000]), edges).tolist() == [1, 2, -1]
    assert postings.locate(np.array([1, 2]), np.empty(0, dtype=np.int32)).tolist() == [-1, -1]


def test_the_compiled_rows_are_its_own_while_python_code_runs() -> None:
    """A weight's ``__float__`` that empties the list of rows frees nothing the module reads
    (it holds a tuple of them): the rows are added, nothing crashes."""
    if not postings.compiled:
        pytest.skip("the compiled module is not built")
    from retrieval import _postings

    rows: list[tuple[np.ndarray, np.ndarray, object]] = []

    class Weight:
        def __float__(self) -> float:
            rows.clear()
            for _ in range(100):
                np.arange(50, dtype=np.int64)  # reuses what the list freed
            return 1.0

    rows.append((np.arange(3, dtype=np.int32), np.ones(3, np.float32), Weight()))
    rows += [(np.arange(3, dtype=np.int32), np.ones(3, np.float32), 1.0)] * 3
    out = np.zeros(10)
    _postings.add_rows(out, rows)  # type: ignore[arg-type]
    assert out.tolist() == [4.0, 4.0, 4.0, *[0.0] * 7]
    with pytest.raises(TypeError):  # a row is a tuple
        _postings.add_rows(out, [[np.arange(3), np.ones(3), 1.0]])  # type: ignore[list-item]
