"""Every clause prepared for the index once: normalised, cut into words, matched against the
question kinds' patterns and scored on the topics, in chunks, by this process and, for a large
corpus, by worker processes at the same time.

That work is Python per clause (jieba, regular expressions, about 80 µs a clause on one core):
most of a first build. Worker processes take chunks from the end while this process takes them
from the start, so the two meet wherever the machine's load puts them. The chunks are merged in
corpus order and the words' ids assigned in first-seen order, as a single process assigns them:
the index is the same, bit for bit, however many processes prepared it.

Workers are started with ``spawn`` (a fresh interpreter), never ``fork``: a serving process has
threads, and a forked child of a threaded process can inherit a lock held by one of them. A
worker that cannot start or dies leaves its chunks to this process; nothing is lost but time.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import resource
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np

from retrieval.memory import release_freed_memory
from retrieval.search.chars import char_term_ids
from retrieval.search.query import get_question_kinds
from retrieval.term_ids import TermChunk, TokenIds, merge_chunks
from retrieval.tokenize import PolicyTokenizer, TokenizerRecipe
from retrieval.word_ids import piece_ids, piece_words, words_of_pieces
from zhtext.normalize import normalize_texts

log = logging.getLogger(__name__)

CHUNK_CLAUSES = 2_000  # clauses a worker takes at a time (small: the two sides meet closely)
PARALLEL_MIN_CLAUSES = 30_000  # below this, starting a worker costs more than it saves
PARALLEL_MIN_PIECES = 4_000  # distinct pieces below which a worker is not sent half to cut
TopicProfile = Callable[[list[str]], np.ndarray]
_Field = TypeVar("_Field")


def default_workers() -> int:
    """Worker processes a build may start: the cores this process may use, but one (which this
    process uses itself), at most three (beyond, merging and memory cost more than they save)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(0, min(cores - 1, 3))


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
class _Chunk:
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
    ) -> _Chunk:
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
        return _Chunk(texts, TermChunk.of(pieces), TermChunk.of(chars), kinds, intents)


class Preparation:
    """The preparation of one corpus's clauses: ``start`` sets the workers going (early, so
    they start while this process does other work), ``result`` prepares what is left here and
    merges. ``source`` gives the clauses' raw texts and their titles when first needed; with
    ``count`` (their number) given, workers start while they are read."""

    def __init__(
        self,
        preparer: ClausePreparer,
        tokenizer: PolicyTokenizer,
        source: Callable[[], tuple[list[str], list[str]]],
        *,
        count: int | None = None,
        workers: int | None = None,
        chunk_clauses: int | None = None,
        min_clauses: int | None = None,
    ) -> None:
        self.preparer = preparer
        self.tokenizer = tokenizer
        self._source = source
        self._count = count  # the clauses' number, when known before they are read
        self.workers = default_workers() if workers is None else max(workers, 0)
        self.chunk_clauses = max(chunk_clauses or CHUNK_CLAUSES, 1)
        self.min_clauses = PARALLEL_MIN_CLAUSES if min_clauses is None else min_clauses
        self._raw: list[str] = []
        self._titles: list[str] = []
        self._pool: ProcessPoolExecutor | None = None
        self._futures: dict[int, Future[_Chunk]] = {}  # chunks handed to workers, by number
        self._next = self._last = 0  # the chunks no one took yet: _next to _last
        self._handing = True  # False once the pool broke
        self._started = False
        self._result: PreparedClauses | None = None

    @property
    def done(self) -> PreparedClauses | None:
        """The result when it was asked for already (None: not prepared)."""
        return self._result

    # each part takes what it is built from, which is then let go (a part's build holds
    # its own copies: the others' need not be held meanwhile)

    def texts(self) -> list[str]:
        return self._take("texts", [])

    def words(self) -> TokenIds:
        return self._take("words", TokenIds())

    def chars(self) -> TokenIds:
        return self._take("chars", TokenIds())

    def kinds(self) -> np.ndarray:
        return self._take("kinds", np.zeros(0, dtype=bool))

    def intents(self) -> np.ndarray:
        return self._take("intents", np.zeros(0))

    def _take(self, name: str, empty: _Field) -> _Field:
        prepared = self.result()
        taken: _Field = getattr(prepared, name)
        setattr(prepared, name, empty)
        return taken

    def start(self) -> None:
        """Start the worker processes (for a large corpus), read the clauses meanwhile, and
        hand the workers the last chunks."""
        if self._started:
            return
        self._started = True
        count = self._count
        if count is None:
            self._read()
            count = len(self._raw)
        if self.workers and count >= self.min_clauses and count > self.chunk_clauses:
            self._start_pool()
        if self._count is not None:
            self._read()
        self._next, self._last = 0, len(self._chunks()) - 1
        try:
            self._hand_out(per_worker=4)  # enough to keep them busy while this process goes on
        except Exception:
            log.warning("could not hand out work to worker processes", exc_info=True)
            self._handing = False

    def _read(self) -> None:
        self._raw, self._titles = self._source()
        if self._count is not None and len(self._raw) != self._count:
            raise ValueError("the corpus changed while it was read")

    def _start_pool(self) -> None:
        try:
            pickle.dumps(self.preparer)  # a lambda for a topic profile cannot reach a worker
        except Exception:
            log.info("clauses prepared in this process: their preparer cannot be pickled")
            return
        try:
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self.preparer,),
            )
            for _ in range(self.workers):  # they start (a second) while the clauses are read
                self._pool.submit(_ready)
        except Exception:  # no process could be started (limits, a read-only /dev/shm)
            log.warning("could not start worker processes; preparing here", exc_info=True)
            self._stop()

    def _hand_out(self, per_worker: int = 2) -> None:
        """Keep chunks waiting for each worker, taken from the end: this process takes
        them from the start, and the two meet wherever the machine's load puts them. Nothing
        handed out is ever cancelled (a cancelled item of a pool that then breaks raises in
        the pool's own thread on Python 3.11): this process only stops handing out."""
        if self._pool is None or not self._handing:
            return
        waiting = sum(not future.done() for future in self._futures.values())
        while waiting < per_worker * self.workers and self._last >= self._next:
            start, end = self._chunks()[self._last]
            self._futures[self._last] = self._pool.submit(
                _prepare_in_worker, self._raw[start:end], self._titles[start:end]
            )
            self._last -= 1
            waiting += 1

    def result(self) -> PreparedClauses:
        """Every clause prepared (this process takes each chunk no worker took)."""
        if self._result is not None:
            return self._result
        self.start()
        ranges = self._chunks()
        chunks: dict[int, _Chunk] = {}
        try:
            while self._next <= self._last:
                number = self._next
                self._next += 1
                start, end = ranges[number]
                chunks[number] = self.preparer.prepare(
                    self.tokenizer, self._raw[start:end], self._titles[start:end]
                )
                try:
                    self._hand_out()
                except Exception:  # the pool broke: what it holds is redone below
                    log.warning("worker processes stopped; preparing here", exc_info=True)
                    self._handing = False
            for number, future in sorted(self._futures.items()):
                try:
                    chunks[number] = future.result()
                except Exception:  # the worker died (killed, out of memory): done here
                    start, end = ranges[number]
                    log.warning("a worker failed on clauses %d–%d", start, end, exc_info=True)
                    chunks[number] = self.preparer.prepare(
                        self.tokenizer, self._raw[start:end], self._titles[start:end]
                    )
            by_workers = sum(not self._futures[n].exception() for n in self._futures)
            self._futures.clear()  # a future holds its result
            ordered = [chunks.pop(number) for number in range(len(ranges))]
            self._result = _merge(ordered, self._cut, self.preparer, by_workers)
        finally:
            self._stop()
        self._raw, self._titles = [], []
        release_freed_memory()  # the chunks' objects, freed: the fields are built next
        if by_workers:
            log.info(
                "prepared %d clauses: %d of %d chunks by worker processes",
                len(self._result.texts),
                by_workers,
                len(ranges),
            )
        return self._result

    def _cut(self, keys: list[str]) -> list[tuple[str, ...]]:
        """The words of each distinct piece: half of them cut by a worker when there is one."""
        if self._pool is None or not self._handing or len(keys) < PARALLEL_MIN_PIECES:
            return piece_words(self.tokenizer, keys)
        half = len(keys) // 2
        try:
            theirs: Future[list[tuple[str, ...]]] | None = self._pool.submit(
                _cut_in_worker, keys[half:]
            )
        except Exception:  # the pool broke meanwhile
            theirs = None
        mine = piece_words(self.tokenizer, keys[:half])
        if theirs is not None:
            try:
                return mine + theirs.result()
            except Exception:
                log.warning("a worker failed cutting pieces; cutting them here", exc_info=True)
        return mine + piece_words(self.tokenizer, keys[half:])

    def _chunks(self) -> list[tuple[int, int]]:
        """Clause ranges: one for a corpus this process prepares alone, else small ones."""
        total = len(self._raw)
        if self._pool is None:
            return [(0, total)]
        size = self.chunk_clauses
        return [(start, min(start + size, total)) for start in range(0, total, size)]

    def _stop(self) -> None:
        """The workers let go (what they were handed is finished first: a few chunks)."""
        self._futures.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def _merge(
    chunks: list[_Chunk],
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


def _start_worker(preparer: ClausePreparer) -> None:
    """A worker's tokenizer, cutting as the building process's does."""
    global _worker
    tokenizer = preparer.tokenizer.build()
    tokenizer.load_whole_dictionary()
    _worker = (preparer, tokenizer)


def _ready() -> None:
    """Nothing: makes the pool start its processes."""


def _cut_in_worker(keys: list[str]) -> list[tuple[str, ...]]:
    assert _worker is not None, "worker not started"
    return piece_words(_worker[1], keys)


def _prepare_in_worker(raw: list[str], titles: list[str]) -> _Chunk:
    assert _worker is not None, "worker not started"
    preparer, tokenizer = _worker
    chunk = preparer.prepare(tokenizer, raw, titles)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return replace(chunk, peak_mb=peak_mb)
