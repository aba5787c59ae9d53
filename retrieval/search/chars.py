"""The characters field: characters and character pairs of a text, the way laypeople and
documents that word a thing differently still meet (首台(套) and 首台套)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from retrieval.term_ids import TokenIds, first_seen_ids

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
    # every character as _RUN's class allows it: a dense id (ascending code), else -1
    codes = np.minimum(np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32), _BEYOND)
    del joined
    codes = codes.astype(np.int32)
    present = (np.bincount(codes, minlength=_BEYOND + 1) > 0) & _IN_RUN
    n_chars = int(present.sum())
    dense = np.full(_BEYOND + 1, -1, dtype=np.int32)
    dense[present] = np.arange(n_chars, dtype=np.int32)
    char = dense[codes]
    separators = np.flatnonzero(codes == ord(_TEXT_SEPARATOR))
    del codes
    in_run = char >= 0
    edges = np.diff(np.concatenate(([False], in_run, [False])).view(np.int8))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    del edges
    lengths = ends - starts
    # a run gives its characters, then its adjacent pairs (2·L − 1 terms): its characters
    # come after the pairs of the runs before it, its pairs after the characters of the runs
    # up to it (a pair's key follows the characters' keys, first character major; below 2³¹)
    chars_through = np.cumsum(lengths)
    pairs_before = chars_through - lengths - np.arange(len(starts))
    run_chars = char[in_run]
    pair = in_run[:-1] & in_run[1:]
    pair_keys = n_chars + char[:-1][pair] * np.int32(n_chars) + char[1:][pair]
    del char, in_run, pair
    keys = np.empty(len(run_chars) + len(pair_keys), dtype=np.int32)
    at = np.dtype(np.int32 if len(keys) < 2**31 else np.int64)  # positions: half the memory
    place: np.ndarray = np.arange(len(run_chars), dtype=at)
    place += np.repeat(pairs_before.astype(at), lengths)
    keys[place] = run_chars
    place = np.arange(len(pair_keys), dtype=at)
    place += np.repeat(chars_through.astype(at), lengths - 1)
    keys[place] = pair_keys
    del place
    del run_chars, pair_keys
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    if len(starts):
        text_of = np.searchsorted(separators, starts)  # the separators before a run
        per_text = np.bincount(text_of, weights=2 * lengths - 1, minlength=len(texts))
        np.cumsum(per_text.astype(np.int64), out=offsets[1:])
    ids, vocabulary = first_seen_ids(keys, n_chars + n_chars * n_chars)
    letters = [chr(code) for code in np.flatnonzero(present).tolist()]
    terms = [
        letters[key]
        if key < n_chars
        else "".join(letters[i] for i in divmod(key - n_chars, n_chars))
        for key in vocabulary.tolist()
    ]
    return TokenIds.of_arrays(ids, offsets, terms)


_TEXT_SEPARATOR = "\x00"
_BEYOND = 0xA000  # every code from here on is outside _RUN's class
_IN_RUN = np.zeros(_BEYOND + 1, dtype=bool)  # _RUN's class, by code
_IN_RUN[0x3400:0xA000] = True
_IN_RUN[ord("a") : ord("z") + 1] = True
_IN_RUN[ord("0") : ord("9") + 1] = True


def compact(text: str) -> str:
    """Text with punctuation and spaces removed: 首台(套) reads as 首台套."""
    return "".join(_RUN.findall(text))
