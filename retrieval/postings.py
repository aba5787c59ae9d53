"""Loops over a BM25 field's postings: a row's weights added at its clauses, a row read at a
few clauses, the fields' sums combined.

A question's terms touch hundreds of thousands of postings at 100,000 clauses. numpy adds a
float32 row in four passes (its clause ids to ``add.at``'s index type, the weight multiplied,
the product widened, ``add.at``); the compiled ``retrieval._postings`` (setup.py) adds all the
rows in one loop, a block of clauses at a time, locates a row's clauses by galloping through it
instead of a binary search a clause, and combines the fields' sums in one pass. Where it is
not built (no C compiler at install) the same sums are done with numpy. Both give the bits of
``np.add.at(out, clauses, (data * weight).astype(np.float64))``, term after term: ranking's
exact scores do not depend on which one ran (tests compare them).

A build's loops over every token are here too, compiled only (``term_rows``, ``clause_rows``):
counting sorts in two passes, where numpy sorts a key per token (``retrieval.counts`` and
``retrieval.index`` do that where this is not built; tests compare the two).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

import numpy as np

_compiled: ModuleType | None
try:
    from retrieval import _postings as _compiled
except ImportError:  # pragma: no cover - exercised by forcing ``compiled = False`` in tests
    _compiled = None

compiled: bool = _compiled is not None  # tests set it False to run the numpy way


def add_rows(out: np.ndarray, rows: Sequence[tuple[np.ndarray, np.ndarray, float]]) -> None:
    """Each row's ``out[clauses] += data * weight``, row after row (the product in ``data``'s
    own precision, as numpy multiplies by a Python float, then widened to float64); a row's
    clauses ascend, as an index's rows do. Compiled, the rows are added a block of 4,096
    clauses at a time (their sums stay in the processor's first cache; each clause still gets
    its rows in their order). A clause outside ``out``, or not above the one before it, raises
    IndexError, and ``out`` is then not to be used; arrays of another type raise TypeError."""
    weighed = [(clauses, data, float(weight)) for clauses, data, weight in rows]
    if compiled and _compiled is not None:
        _compiled.add_rows(
            out, [(np.ascontiguousarray(c), np.ascontiguousarray(d), w) for c, d, w in weighed]
        )
        return
    _check_sums(out)
    for clauses, data, weight in weighed:
        _check_row(clauses, data)
        if len(clauses) and (
            clauses[0] < 0 or clauses[-1] >= len(out) or not (np.diff(clauses) > 0).all()
        ):
            raise IndexError(f"a row's clauses outside the {len(out)} clauses or not ascending")
        np.add.at(out, clauses, _weighed(data, weight))


def locate(positions: np.ndarray, clauses: np.ndarray) -> np.ndarray:
    """Where each of ``positions`` is in ``clauses`` (both ascending): its index there, or -1
    when the row does not hold it."""
    if compiled and _compiled is not None:
        slots = np.empty(len(positions), dtype=np.int64)
        _compiled.locate(slots, np.ascontiguousarray(positions), np.ascontiguousarray(clauses))
        return slots
    _check_ids(positions, "positions")
    _check_ids(clauses, "clauses")
    if len(positions) > 1 and (np.diff(positions) < 0).any():
        raise ValueError("positions must ascend")
    if not len(clauses):
        return np.full(len(positions), -1, dtype=np.int64)
    slots = np.searchsorted(clauses, positions.astype(clauses.dtype, copy=False))
    found = clauses.take(slots, mode="clip") == positions
    return np.where(found, slots, -1).astype(np.int64, copy=False)


def combine(
    total: np.ndarray,
    chars: np.ndarray | None,
    scale: float,
    titles: np.ndarray | None,
    doc_of_clause: np.ndarray,
    scratch: np.ndarray,
) -> None:
    """``total += chars * scale``, then ``total += titles[doc_of_clause]`` (either left out
    when None), in one pass where compiled; ``scratch``: an array of ``total``'s size."""
    if compiled and _compiled is not None:
        _compiled.combine(total, chars, scale, titles, np.ascontiguousarray(doc_of_clause))
        return
    _check_sums(total)
    _check_ids(doc_of_clause, "doc_of_clause")
    if len(doc_of_clause) != len(total) or (chars is not None and len(chars) != len(total)):
        raise ValueError("arrays of different lengths")
    if chars is not None:
        total += np.multiply(chars, scale, out=scratch)
    if titles is not None:
        if len(doc_of_clause) and (
            doc_of_clause.min() < 0 or doc_of_clause.max() >= len(titles)
        ):  # not from the end
            raise IndexError(f"a document outside the {len(titles)} documents")
        total += np.take(titles, doc_of_clause, out=scratch)


def term_rows(
    ids: np.ndarray, offsets: np.ndarray, n_terms: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compiled only: each term's row (``indptr``, int64) of the clauses holding it, ascending
    (``indices``, int32), and its count in each (``tf``: uint16 when every count fits, else
    uint32), where clause ``d``'s tokens are ``ids[offsets[d]:offsets[d + 1]]``. A term id
    outside ``[0, n_terms)`` raises IndexError."""
    assert _compiled is not None, "retrieval._postings is not built"
    ids = np.ascontiguousarray(ids, dtype=np.int32)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    df = np.empty(n_terms, dtype=np.int64)
    most = _compiled.count_terms(ids, offsets, df)
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    del df
    indices = np.empty(int(indptr[-1]), dtype=np.int32)
    tf = np.empty(len(indices), dtype=np.uint16 if most < 2**16 else np.uint32)
    _compiled.place_terms(ids, offsets, indptr, indices, tf)
    return indptr, indices, tf


def clause_rows(indptr: np.ndarray, indices: np.ndarray, clause_indptr: np.ndarray) -> np.ndarray:
    """Compiled only: a term-row matrix's clause rows of their terms, ascending (int32), laid
    out by ``clause_indptr`` (each clause's row, int64)."""
    assert _compiled is not None, "retrieval._postings is not built"
    terms = np.empty(len(indices), dtype=np.int32)
    _compiled.transpose(
        np.ascontiguousarray(indptr, dtype=np.int64),
        np.ascontiguousarray(indices, dtype=np.int32),
        clause_indptr,
        terms,
    )
    return terms


# The numpy way refuses what the compiled module refuses (its ``take``): the same errors
# whichever runs.


def _check_sums(out: np.ndarray) -> None:
    if out.dtype != np.float64 or out.ndim != 1:
        raise TypeError(f"sums: float64 in one dimension, not {out.dtype} in {out.ndim}")
    if not out.flags.writeable or not out.flags.c_contiguous:
        raise ValueError("sums: a writable, contiguous array")


def _check_ids(ids: np.ndarray, name: str) -> None:
    if ids.dtype not in (np.int32, np.int64) or ids.ndim != 1:
        raise TypeError(f"{name}: int32 or int64 in one dimension, not {ids.dtype}")


def _check_row(clauses: np.ndarray, data: np.ndarray) -> None:
    _check_ids(clauses, "clauses")
    if data.dtype not in (np.float32, np.float64) or data.ndim != 1:
        raise TypeError(f"data: float32 or float64 in one dimension, not {data.dtype}")
    if len(data) != len(clauses):
        raise ValueError("clauses and data differ in length")


def _weighed(data: np.ndarray, weight: float) -> np.ndarray:
    values = data if weight == 1.0 else data * weight
    return values.astype(np.float64, copy=False)
