"""The characters field: characters and character pairs of a text, the way laypeople and
documents that word a thing differently still meet (首台(套) and 首台套)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from retrieval.index import TokenIds

_RUN = re.compile(r"[\u3400-\u9fffa-z0-9]+")


def char_terms(normalized: str) -> list[str]:
    """Characters and adjacent character pairs of the Chinese and alphanumeric runs."""
    terms: list[str] = []
    for run in _RUN.findall(normalized):
        terms.extend(run)
        terms.extend(run[i : i + 2] for i in range(len(run) - 1))
    return terms


def char_term_ids(texts: Sequence[str]) -> TokenIds:
    """``char_terms`` of every normalised text as term ids, without a Python step per term:
    the same terms, in the same order, with the same first-seen vocabulary as encoding
    ``char_terms(text)`` text by text (so the field's scores are bit for bit the same)."""
    joined = _TEXT_SEPARATOR.join(texts)  # normalised text holds no control characters
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    del joined
    in_run = (
        ((codes >= 0x3400) & (codes <= 0x9FFF))
        | ((codes >= ord("a")) & (codes <= ord("z")))
        | ((codes >= ord("0")) & (codes <= ord("9")))
    )  # _RUN's class
    text_of = np.cumsum(codes == ord(_TEXT_SEPARATOR))  # which text each character is in
    flags = np.concatenate(([False], in_run, [False])).view(np.int8)
    edges = np.diff(flags)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    lengths = ends - starts
    # each run gives its characters, then its adjacent pairs: 2·L − 1 terms
    sizes = 2 * lengths - 1
    base = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    keys = np.empty(int(sizes.sum()), dtype=np.int64)
    run_of = np.repeat(np.arange(len(starts)), lengths)
    at = np.flatnonzero(in_run)
    inside = at - starts[run_of]
    keys[base[run_of] + inside] = codes[at]
    pair = inside < lengths[run_of] - 1
    pair_at = at[pair]
    keys[base[run_of[pair]] + lengths[run_of[pair]] + inside[pair]] = (
        _PAIR_FLAG | (codes[pair_at] << 21) | codes[pair_at + 1]
    )
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    if len(starts):
        per_text = np.bincount(text_of[starts], weights=sizes, minlength=len(texts))
        np.cumsum(per_text.astype(np.int64), out=offsets[1:])
    ids, vocabulary = _first_seen_ids(keys)
    terms = [
        chr(key) if key < _PAIR_FLAG else chr((key >> 21) & _CODE_MASK) + chr(key & _CODE_MASK)
        for key in vocabulary.tolist()
    ]
    return TokenIds.of_arrays(ids, offsets, terms)


def _first_seen_ids(keys: np.ndarray, chunk: int = 1 << 20) -> tuple[np.ndarray, np.ndarray]:
    """Each key's id in the order keys are first seen, and the keys in id order. A chunk's
    new keys are sorted, not the whole array: most of a corpus's terms are repeats."""
    distinct = np.unique(keys)
    dense = np.searchsorted(distinct, keys).astype(np.int32)
    id_of = np.full(len(distinct), -1, dtype=np.int32)
    order: list[np.ndarray] = []
    assigned = 0
    for start in range(0, len(dense), chunk):
        part = dense[start : start + chunk]
        new = part[id_of[part] < 0]
        if len(new):
            fresh, first = np.unique(new, return_index=True)
            fresh = fresh[np.argsort(first)]
            id_of[fresh] = np.arange(assigned, assigned + len(fresh), dtype=np.int32)
            assigned += len(fresh)
            order.append(fresh)
    seen = np.concatenate(order) if order else np.zeros(0, dtype=np.int64)
    return id_of[dense], distinct[seen]


_TEXT_SEPARATOR = "\x00"
_PAIR_FLAG = 1 << 42
_CODE_MASK = (1 << 21) - 1


def compact(text: str) -> str:
    """Text with punctuation and spaces removed: 首台(套) reads as 首台套."""
    return "".join(_RUN.findall(text))
