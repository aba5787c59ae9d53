"""Term frequencies of a corpus as a term-row sparse matrix, counted a slice of clauses at a time.

Counting terms sorts one key per token; at a million clauses that is hundreds of millions of tokens,
and sorting them at once held several copies of them (the build's peak). Each slice of clauses
is sorted and counted on its own, and the slices' counts are placed in their term's row one
slice after the other: a term's clauses stay ascending (slices come in clause order), so the
result is exactly the one counting everything at once gives.
"""

from __future__ import annotations

import numpy as np

SLICE_TOKENS = 4_000_000  # tokens counted at a time (tens of megabytes of keys)


class TermCounts:
    """Term frequencies as term-row CSR (clauses ascending in a row), clause lengths, df."""

    def __init__(
        self, indptr: np.ndarray, indices: np.ndarray, tf: np.ndarray, doc_len: np.ndarray
    ) -> None:
        self.indptr, self.indices, self.tf, self.doc_len = indptr, indices, tf, doc_len
        self.df = np.diff(indptr).astype(np.int64)

    @classmethod
    def from_ids(
        cls, ids: np.ndarray, offsets: np.ndarray, n_terms: int, slice_tokens: int = SLICE_TOKENS
    ) -> TermCounts:
        """Clause ``i``'s tokens are ``ids[offsets[i]:offsets[i + 1]]`` (term ids < n_terms)."""
        n_docs = len(offsets) - 1
        doc_len = np.diff(offsets).astype(np.int32)
        slices = []
        first = 0
        while first < n_docs:
            last = int(np.searchsorted(offsets, offsets[first] + slice_tokens, side="right"))
            last = min(max(last - 1, first + 1), n_docs)  # at least one clause a slice
            slices.append(_count_slice(ids, offsets, doc_len, first, last))
            first = last
        # each slice's entries go to their term's row after the slices before it (a counting
        # sort): no array over all entries is made but the result itself, and no array over
        # the vocabulary per slice
        df = np.zeros(n_terms, dtype=np.int64)
        for term, _, _ in slices:
            df += np.bincount(term, minlength=n_terms)
        indptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        most = max((int(tf.max()) for _, _, tf in slices if len(tf)), default=0)
        indices = np.empty(int(indptr[-1]), dtype=np.int32)
        tf = np.empty(int(indptr[-1]), dtype=np.uint16 if most < 2**16 else np.uint32)
        cursor = indptr[:-1].copy()
        for term, doc, counts in slices:  # a slice's entries come sorted by term
            starts = np.flatnonzero(np.diff(term, prepend=-1))
            runs = np.diff(starts, append=len(term))
            terms_here = term[starts]
            at = np.repeat(cursor[terms_here] - starts, runs) + np.arange(len(term))
            indices[at] = doc
            tf[at] = counts
            cursor[terms_here] += runs
        return cls(indptr, indices, tf, doc_len)


def _count_slice(
    ids: np.ndarray, offsets: np.ndarray, doc_len: np.ndarray, first: int, last: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(term, clause, count) of clauses ``first``..``last`` − 1, by term then clause: one key
    per token, sorted in place and counted where a key changes."""
    width = last - first
    keys = ids[offsets[first] : offsets[last]].astype(np.int64)
    keys *= width
    keys += np.repeat(np.arange(width, dtype=np.int32), doc_len[first:last])
    keys.sort()
    starts = np.flatnonzero(np.diff(keys, prepend=-1))
    tf = np.diff(starts, append=len(keys)).astype(np.uint32)
    keys = keys[starts]
    term = (keys // width).astype(np.int32)
    doc = (keys % width + first).astype(np.int32)
    return term, doc, tf
