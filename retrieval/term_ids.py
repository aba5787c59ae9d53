"""Clauses as term ids: what a tokeniser writes once per corpus version and a BM25 field is
built from, and ids numbered in the order terms are first seen (as one pass over a corpus
numbers them, whichever way the ids were made)."""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


class TokenIds:
    """Clauses as term ids: ``ids[offsets[i]:offsets[i + 1]]`` are clause ``i``'s tokens.

    Encoding strings to ids once, with one dict, is the only per-token Python work of a build.
    """

    def __init__(self) -> None:
        self.vocabulary: dict[str, int] = {}
        # 4 bytes a token (a list of ints would take 36); arrays as given by ``of_arrays``
        self._ids: array[int] | np.ndarray = array("i")
        self._offsets: array[int] | np.ndarray = array("q", [0])

    def add(self, tokens: Iterable[str]) -> None:
        """Append one clause."""
        lookup = self.vocabulary.setdefault
        self.add_ids([lookup(token, len(self.vocabulary)) for token in tokens])

    def add_ids(self, ids: Sequence[int]) -> None:
        """Append one clause already encoded with ``vocabulary``."""
        if isinstance(self._ids, array) and isinstance(self._offsets, array):
            all_ids, offsets = self._ids, self._offsets
        else:  # made of arrays: appended to as a copy
            all_ids, offsets = array("i", self._ids.tobytes()), array("q", self._offsets.tobytes())
            self._ids, self._offsets = all_ids, offsets
        all_ids.extend(ids)
        offsets.append(len(all_ids))

    @classmethod
    def of(cls, corpus: Iterable[Iterable[str]]) -> TokenIds:
        encoded = cls()
        for tokens in corpus:
            encoded.add(tokens)
        return encoded

    @classmethod
    def of_arrays(cls, ids: np.ndarray, offsets: np.ndarray, terms: Sequence[str]) -> TokenIds:
        """Clauses a vectorised tokeniser encoded itself (``terms[id]``)."""
        encoded = cls()
        encoded.vocabulary = {term: i for i, term in enumerate(terms)}
        encoded._ids = np.ascontiguousarray(ids, dtype=np.int32)  # kept, not copied
        encoded._offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        return encoded

    @property
    def ids(self) -> np.ndarray:
        return np.frombuffer(self._ids, dtype=np.int32) if len(self._ids) else np.zeros(0, np.int32)

    @property
    def offsets(self) -> np.ndarray:
        return np.frombuffer(self._offsets, dtype=np.int64)

    def terms(self) -> list[str]:
        """The vocabulary in id order."""
        return list(self.vocabulary)


def first_seen_ids(
    keys: np.ndarray, bound: int, chunk: int = 1 << 16
) -> tuple[np.ndarray, np.ndarray]:
    """Each key's id (keys in ``[0, bound)``) in the order keys are first seen, and the keys
    in id order. Keys index a table of ids when ``bound`` is small enough (a corpus of up to
    5,800 distinct characters) and not far beyond the keys' count (a table is filled whole),
    else are made dense by sorting first."""
    if bound > _DIRECT_KEYS or bound > 4 * len(keys):
        distinct, dense = np.unique(keys, return_inverse=True)
        ids, seen = _first_seen_dense(dense.astype(np.int32).ravel(), len(distinct), chunk)
        return ids, distinct[seen]
    return _first_seen_dense(keys, bound, chunk)


def _first_seen_dense(keys: np.ndarray, bound: int, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """``first_seen_ids`` of keys that index a table: a chunk's new keys are sorted, not the
    whole array (most of a corpus's terms are repeats)."""
    id_of = np.full(bound, -1, dtype=np.int32)
    order: list[np.ndarray] = []
    assigned = 0
    for start in range(0, len(keys), chunk):
        part = keys[start : start + chunk]
        new = part[id_of[part] < 0]
        if len(new):
            fresh, first = np.unique(new, return_index=True)
            fresh = fresh[np.argsort(first)]
            id_of[fresh] = np.arange(assigned, assigned + len(fresh), dtype=np.int32)
            assigned += len(fresh)
            order.append(fresh)
    seen = np.concatenate(order) if order else np.zeros(0, dtype=np.int64)
    return id_of[keys], seen


_DIRECT_KEYS = 1 << 25  # a table of this many ids is 128 MB while a field is built


@dataclass(frozen=True, slots=True)
class TermChunk:
    """A chunk of a corpus's clauses as term ids numbered for the chunk alone, in first-seen
    order (``merge_chunks`` numbers them for the corpus)."""

    ids: np.ndarray
    offsets: np.ndarray
    terms: list[str]

    @classmethod
    def of(cls, encoded: TokenIds) -> TermChunk:
        return cls(encoded.ids, encoded.offsets, encoded.terms())


def merge_chunks(chunks: list[TermChunk]) -> TokenIds:
    """The chunks' term ids renumbered for the corpus, in first-seen order: the ids one pass
    over the whole corpus assigns (written into one array, each chunk let go once copied)."""
    vocabulary: dict[str, int] = {}
    assign = vocabulary.setdefault
    tokens = sum(len(chunk.ids) for chunk in chunks)
    ids = np.empty(tokens, dtype=np.int32)
    offsets = np.zeros(sum(len(chunk.offsets) - 1 for chunk in chunks) + 1, dtype=np.int64)
    token = text = 0
    for number in range(len(chunks)):
        chunk = chunks[number]
        renumber = np.fromiter(
            (assign(term, len(vocabulary)) for term in chunk.terms),
            dtype=np.int32,
            count=len(chunk.terms),
        )
        np.take(renumber, chunk.ids, out=ids[token : token + len(chunk.ids)])
        offsets[text + 1 : text + len(chunk.offsets)] = chunk.offsets[1:] + token
        token += len(chunk.ids)
        text += len(chunk.offsets) - 1
        chunks[number] = _NO_TERMS  # the chunk's arrays go as soon as they are copied
    return TokenIds.of_arrays(ids, offsets, list(vocabulary))


_NO_TERMS = TermChunk(np.zeros(0, np.int32), np.zeros(1, np.int64), [])
