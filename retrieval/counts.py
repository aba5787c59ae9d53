"""Term frequencies of a corpus as a term-row sparse matrix, counted a slice of clauses at a time.

Counting terms sorts one key per token; at a million clauses that is hundreds of millions of tokens,
and sorting them at once held several copies of them (the build's peak). Each slice of clauses
is sorted and counted on its own, and the slices' counts are placed in their term's row one
slice after the other: a term's clauses stay ascending (slices come in clause order), so the
result is exactly the one counting everything at once gives. Where ``retrieval._postings`` is
built, a counting sort in two passes over the tokens gives the same arrays without sorting
(``postings.term_rows``, several times faster).
"""

from __future__ import annotations

import numpy as np

from retrieval import postings

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
        if postings.compiled:
            return cls(*postings.term_rows(ids, offsets, n_terms), doc_len)
        if len(ids) and (int(ids.min()) < 0 or int(ids.max()) >= n_terms):
            raise IndexError(f"a term id outside the {n_terms} terms")
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
        for terms_here, runs, _, _ in slices:
            df[terms_here] += runs  # a slice's terms are distinct
        indptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        wide = any(counts.dtype == np.uint32 for _, _, _, counts in slices)
        indices = np.empty(int(indptr[-1]), dtype=np.int32)
        tf = np.empty(int(indptr[-1]), dtype=np.uint32 if wide else np.uint16)
        cursor = indptr[:-1].copy()
        while slices:  # each slice let go once placed
            terms_here, runs, doc, counts = slices.pop(0)
            starts = np.zeros(len(runs), dtype=np.int64)
            np.cumsum(runs[:-1], out=starts[1:])
            at = np.repeat(cursor[terms_here] - starts, runs) + np.arange(len(doc))
            indices[at] = doc
            tf[at] = counts
            cursor[terms_here] += runs
        return cls(indptr, indices, tf, doc_len)


def _count_slice(
    ids: np.ndarray, offsets: np.ndarray, doc_len: np.ndarray, first: int, last: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The counts of clauses ``first``..``last`` − 1 by term then clause: the slice's distinct
    terms and how many clauses each is in (not a term per entry: a slice is held until every
    slice is counted), and each entry's clause and count (16 bits when they fit). One key per
    token, sorted in place and counted where a key changes."""
    width = last - first
    keys = ids[offsets[first] : offsets[last]].astype(np.int64)
    keys *= width
    keys += np.repeat(np.arange(width, dtype=np.int32), doc_len[first:last])
    keys.sort()
    starts = np.flatnonzero(np.diff(keys, prepend=-1))
    tf = np.diff(starts, append=len(keys))
    tf = tf.astype(np.uint16 if not len(tf) or int(tf.max()) < 2**16 else np.uint32)
    keys = keys[starts]
    doc = (keys % width + first).astype(np.int32)
    keys //= width  # the entries' terms, ascending
    term_starts = np.flatnonzero(np.diff(keys, prepend=-1))
    runs = np.diff(term_starts, append=len(keys))
    return keys[term_starts].astype(np.int32), runs, doc, tf
