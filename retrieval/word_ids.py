"""Many texts' words as term ids, each distinct piece of text cut once, by whichever process.

``PolicyTokenizer`` splits a text into pieces (runs jieba cuts, and number tokens) and cuts each
piece into words. Policy text repeats its phrases, so a corpus has far fewer distinct pieces than
pieces: here a batch of texts becomes piece ids (``piece_ids``: any process can do a batch),
every distinct piece of the corpus is cut once (``piece_words``: a share in each process), and
the pieces' words are laid out as the texts' term ids by numpy (``words_of_pieces``). The ids
and their first-seen order are those ``PolicyTokenizer.encode`` gives text by text.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence

import numpy as np

from retrieval.term_ids import TokenIds, first_seen_ids
from retrieval.tokenize import PolicyTokenizer

NUMBER_MARK = "\x00"  # marks a number token among piece keys (no piece or term holds it)
_SLICE = 1 << 20  # pieces laid out at a time (bounds the temporary arrays)


def piece_ids(tokenizer: PolicyTokenizer, texts: Iterable[str]) -> TokenIds:
    """Normalised texts as ids of their pieces, in first-seen order: a str piece is its own
    key, a number token is ``NUMBER_MARK`` and the token."""
    encoded = TokenIds()
    keys = encoded.vocabulary
    assign = keys.setdefault
    pieces = tokenizer.pieces
    for text in texts:
        ids = array("i")
        for part in pieces(text):
            key = part if part.__class__ is str else NUMBER_MARK + part[0]
            ids.append(assign(key, len(keys)))  # type: ignore[arg-type]
        encoded.add_ids(ids)
    return encoded


def piece_words(tokenizer: PolicyTokenizer, keys: Iterable[str]) -> list[tuple[str, ...]]:
    """The words of each piece key (a number token is its own word)."""
    tokenizer.load_whole_dictionary()  # cutting in bulk: plain dict lookups from the start
    cut = tokenizer.cut
    return [(key[1:],) if key.startswith(NUMBER_MARK) else cut(key) for key in keys]


def words_of_pieces(pieces: TokenIds, words: Sequence[tuple[str, ...]]) -> TokenIds:
    """Texts given as piece ids (``pieces``, whose piece ``i`` has the words ``words[i]``) as
    term ids: each text's words in order, terms numbered in the order first seen."""
    vocabulary: dict[str, int] = {}
    assign = vocabulary.setdefault
    flat = np.fromiter(
        (assign(word, len(vocabulary)) for piece in words for word in piece), dtype=np.int32
    )
    lengths = np.fromiter((len(piece) for piece in words), dtype=np.int64, count=len(words))
    starts = np.zeros(len(words) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    sequence = pieces.ids
    counts = lengths[sequence]
    # where each piece's words start in the texts' words (and so where each text starts)
    placed = np.zeros(len(sequence) + 1, dtype=np.int64)
    np.cumsum(counts, out=placed[1:])
    keys = np.empty(int(placed[-1]), dtype=np.int32)
    for at in range(0, len(sequence), _SLICE):
        part = sequence[at : at + _SLICE]
        part_counts = counts[at : at + _SLICE]
        first, last = placed[at], placed[min(at + _SLICE, len(sequence))]
        # a word's place in its piece: its rank among the slice's words less its piece's start
        within = np.arange(last - first, dtype=np.int64)
        within -= np.repeat(placed[at : at + len(part)] - first, part_counts)
        within += np.repeat(starts[part], part_counts)
        keys[first:last] = flat[within]
    ids, seen = first_seen_ids(keys, len(vocabulary))
    by_key = list(vocabulary)
    return TokenIds.of_arrays(ids, placed[pieces.offsets], [by_key[k] for k in seen.tolist()])
