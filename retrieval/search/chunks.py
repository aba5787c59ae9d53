"""One chunk of clauses prepared for the index (in this process or a worker process), and the
chunks merged in corpus order; the worker processes' side of ``retrieval.search.prepare``."""

from __future__ import annotations

import resource
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from retrieval.search.chars import char_term_ids
from retrieval.search.query import get_question_kinds
from retrieval.term_ids import TermChunk, TokenIds, merge_chunks
from retrieval.tokenize import PolicyTokenizer, TokenizerRecipe
from retrieval.word_ids import piece_ids, piece_words, words_of_pieces
from zhtext.normalize import normalize_texts

TopicProfile = Callable[[list[str]], np.ndarray]


@dataclass(slots=True)
class PreparedClauses:
    """What the per-clause index parts are built from, in corpus order (each handed out once,
    see ``Preparation.texts`` and the like)."""

    texts: list[str]  # normalised, headings first
    words: TokenIds  # the tokenizer's terms, ids in first-seen order
    chars: TokenIds  # characters and character pairs, ids in first-seen order
    kinds: np.ndarray  # per question kind (a row) and clause: whether its pattern matches
    intents: np.ndarray  # per clause (a row) and topic label: the clause's score on it
    worker_chunks: int = 0  # chunks worker processes prepared
    worker_peak_mb: float = 0.0  # the largest resident size a worker reached


@dataclass(frozen=True, slots=True)
class PreparedChunk:
    texts: list[str]
    pieces: TermChunk  # the words are cut once the corpus's distinct pieces are known
    chars: TermChunk
    kinds: np.ndarray
    intents: np.ndarray
    peak_mb: float = 0.0


@dataclass(frozen=True, slots=True)
class ClausePreparer:
    """How to prepare clauses, in a form a worker process can rebuild: the tokenizer's recipe
    (it must cut as this process's tokenizer cuts), the topic profile (a picklable callable:
    a bound method or a ``functools.partial``; None scores nothing) and its label count."""

    tokenizer: TokenizerRecipe
    topic_profile: TopicProfile | None
    labels: int

    def prepare(
        self, tokenizer: PolicyTokenizer, raw: Sequence[str], titles: Sequence[str]
    ) -> PreparedChunk:
        """Clauses' raw texts (headings and text) and their documents' normalised titles."""
        texts = normalize_texts(list(raw))
        pieces = piece_ids(tokenizer, texts)
        chars = char_term_ids(texts)
        kinds = get_question_kinds().masks(texts)
        if self.topic_profile is None:
            intents = np.zeros((len(texts), self.labels))
        else:
            # a clause of a 5G document is about 5G even when it only says 申报时间
            in_document = [f"{title} {text}" for title, text in zip(titles, texts, strict=True)]
            intents = self.topic_profile(in_document).reshape(len(texts), self.labels)
        return PreparedChunk(texts, TermChunk.of(pieces), TermChunk.of(chars), kinds, intents)


def merge_prepared(
    chunks: list[PreparedChunk],
    cut: Callable[[list[str]], list[tuple[str, ...]]],
    preparer: ClausePreparer,
    by_workers: int,
) -> PreparedClauses:
    """The chunks in corpus order (``chunks`` is emptied: each field's chunks go as soon as
    the field is merged); the words are cut from the corpus's distinct pieces by ``cut``."""
    texts = [text for chunk in chunks for text in chunk.texts]
    pieces, chars = [c.pieces for c in chunks], [c.chars for c in chunks]
    kinds = [c.kinds for c in chunks] or [np.zeros((len(get_question_kinds().patterns), 0), bool)]
    intents = [c.intents for c in chunks] or [np.zeros((0, preparer.labels))]
    peak_mb = max((c.peak_mb for c in chunks), default=0.0)
    chunks.clear()
    merged = merge_chunks(pieces)
    return PreparedClauses(
        texts=texts,
        words=words_of_pieces(merged, cut(merged.terms())),
        chars=merge_chunks(chars),
        kinds=np.concatenate(kinds, axis=1),
        intents=np.concatenate(intents, axis=0),
        worker_chunks=by_workers,
        worker_peak_mb=peak_mb,
    )


_worker: tuple[ClausePreparer, PolicyTokenizer] | None = None


def start_worker(preparer: ClausePreparer) -> None:
    """A worker's tokenizer, cutting as the building process's does."""
    global _worker
    tokenizer = preparer.tokenizer.build()
    tokenizer.load_whole_dictionary()
    _worker = (preparer, tokenizer)


def ready() -> None:
    """Nothing: makes the pool start its processes."""


def cut_in_worker(keys: list[str]) -> list[tuple[str, ...]]:
    assert _worker is not None, "worker not started"
    return piece_words(_worker[1], keys)


def prepare_in_worker(raw: list[str], titles: list[str]) -> PreparedChunk:
    assert _worker is not None, "worker not started"
    preparer, tokenizer = _worker
    chunk = preparer.prepare(tokenizer, raw, titles)
    return replace(chunk, peak_mb=_peak_mb())


def _peak_mb() -> float:
    """This process's peak resident size: VmHWM, its own image's. (``ru_maxrss`` would count
    the building process's size too: a spawned worker is a copy of it until it execs.)"""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux
