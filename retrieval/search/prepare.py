"""Every clause prepared for the index once: normalised, cut into words, matched against the
question kinds' patterns and scored on the topics, in chunks, by this process and, for a large
corpus, by worker processes at the same time.

That work is Python per clause (jieba, regular expressions, about 80 µs a clause on one core):
most of a first build. Worker processes take chunks from the end (a few each at the start, at
most their share, then two waiting each) while this process takes them from the start, so the
two sides meet where their speeds put them. Each distinct piece of text is then cut into words
once, half of them by a worker. The chunks are merged in corpus order and the words' ids
assigned in first-seen order, as a single process assigns them: the index is the same, bit for
bit, however many processes prepared it.

Workers are started with ``spawn`` (a fresh interpreter), never ``fork``: a serving process has
threads, and a forked child of a threaded process can inherit a lock held by one of them. Unlike
a plain ``spawn``, a worker does not import the main module (see ``_main_module_hidden``): a
script that builds an index needs no ``if __name__ == "__main__"`` guard. A worker
that cannot start, dies or does not answer within ``WORKER_TIMEOUT_SECONDS`` breaks the pool:
every chunk it still held is prepared here, and nothing more is handed out; nothing is lost
but time.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import numpy as np

from retrieval.cores import usable_cores
from retrieval.memory import release_freed_memory
from retrieval.search.chunks import (
    ClausePreparer,
    PreparedChunk,
    PreparedClauses,
    cut_in_worker,
    merge_prepared,
    prepare_in_worker,
    ready,
    start_worker,
)
from retrieval.term_ids import TokenIds
from retrieval.tokenize import PolicyTokenizer
from retrieval.word_ids import piece_words

log = logging.getLogger(__name__)

CHUNK_CLAUSES = 2_000  # clauses a worker takes at a time (small: the two sides meet closely)
PARALLEL_MIN_CLAUSES = 30_000  # below this, starting a worker costs more than it saves
PARALLEL_MIN_PIECES = 4_000  # distinct pieces below which a worker is not sent half to cut
WORKER_TIMEOUT_SECONDS = 300.0  # a chunk takes a fraction of a second: a worker this late hangs
_Field = TypeVar("_Field")
_Result = TypeVar("_Result")


@contextmanager
def _main_module_hidden() -> Iterator[None]:
    """While worker processes start: ``spawn`` would have each import the main module again
    (a script of one's own run again unless guarded by ``if __name__ == "__main__"``, and the
    command line's imports paid again); a worker needs the project's modules only, which it
    imports as it unpickles its work. Without a file or a spec, ``multiprocessing`` leaves the
    main module alone."""
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    names: dict[str, object] = vars(main)
    hidden: tuple[str, ...] = ("__file__", "__spec__")
    saved = {name: names[name] for name in hidden if name in names}
    names.pop("__file__", None)
    if "__spec__" in saved:
        main.__spec__ = None
    try:
        yield
    finally:
        names.update(saved)


def default_workers() -> int:
    """Worker processes a build may start: the cores this process may use (its container's
    quota included), but one (which this process uses itself), at most three (beyond, merging
    and memory cost more than they save)."""
    return max(0, min(usable_cores() - 1, 3))


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
        self._futures: dict[int, Future[PreparedChunk]] = {}  # chunks handed to workers, by number
        self._ranges: list[tuple[int, int]] = []  # the chunks' clauses, set at the start
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
        try:
            count = self._count
            if count is None:
                self._read()
                count = len(self._raw)
            if self.workers and count >= self.min_clauses and count > self.chunk_clauses:
                self._start_pool()
            if self._count is not None:
                self._read()
        except BaseException:  # the clauses could not be read (a reload replaced them)
            self.close()
            raise
        self._ranges = self._split()
        self._next, self._last = 0, len(self._ranges) - 1
        # enough to keep them busy while this process goes on, never more than their share
        share = len(self._ranges) * self.workers // (self.workers + 1)
        try:
            self._hand_out(per_worker=4, at_most=share)
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
                initializer=start_worker,
                initargs=(self.preparer,),
            )
            with _main_module_hidden():  # processes start here, at the first submissions
                for _ in range(self.workers):  # they start (a second) while clauses are read
                    self._pool.submit(ready)
        except Exception:  # no process could be started (limits, a read-only /dev/shm)
            log.warning("could not start worker processes; preparing here", exc_info=True)
            self.close()

    def _hand_out(self, per_worker: int = 2, at_most: int | None = None) -> None:
        """Keep chunks waiting for each worker, taken from the end: this process takes
        them from the start, and the two meet wherever the machine's load puts them. Nothing
        handed out is ever cancelled (a cancelled item of a pool that then breaks raises in
        the pool's own thread on Python 3.11): this process only stops handing out."""
        if self._pool is None or not self._handing:
            return
        waiting = sum(not future.done() for future in self._futures.values())
        handed = len(self._futures)
        while waiting < per_worker * self.workers and self._last >= self._next:
            if at_most is not None and handed >= at_most:
                break
            handed += 1
            start, end = self._ranges[self._last]
            self._futures[self._last] = self._pool.submit(
                prepare_in_worker, self._raw[start:end], self._titles[start:end]
            )
            self._last -= 1
            waiting += 1

    def result(self) -> PreparedClauses:
        """Every clause prepared (this process takes each chunk no worker took)."""
        if self._result is not None:
            return self._result
        self.start()
        ranges = self._ranges
        chunks: dict[int, PreparedChunk] = {}
        by_workers = 0
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
                    chunks[number] = self._answer(future)
                    by_workers += 1
                except Exception:  # the worker died (killed, out of memory): done here
                    start, end = ranges[number]
                    log.warning("a worker failed on clauses %d–%d", start, end, exc_info=True)
                    chunks[number] = self.preparer.prepare(
                        self.tokenizer, self._raw[start:end], self._titles[start:end]
                    )
            self._futures.clear()  # a future holds its result
            self._raw, self._titles = [], []  # every chunk prepared: not held while merging
            ordered = [chunks.pop(number) for number in range(len(ranges))]
            self._result = merge_prepared(ordered, self._cut_and_close, self.preparer, by_workers)
        finally:
            self.close()
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
                cut_in_worker, keys[half:]
            )
        except Exception:  # the pool broke meanwhile
            theirs = None
        mine = piece_words(self.tokenizer, keys[:half])
        if theirs is not None:
            try:
                return mine + self._answer(theirs)
            except Exception:
                log.warning("a worker failed cutting pieces; cutting them here", exc_info=True)
        return mine + piece_words(self.tokenizer, keys[half:])

    def _cut_and_close(self, keys: list[str]) -> list[tuple[str, ...]]:
        """``_cut``, then the workers let go (they hold a dictionary each: not while merging)."""
        try:
            return self._cut(keys)
        finally:
            self.close()

    def _answer(self, future: Future[_Result]) -> _Result:
        """A worker's result; a worker that does not answer in time is stopped (the pool is
        then broken: what it still held is prepared here)."""
        try:
            return future.result(timeout=WORKER_TIMEOUT_SECONDS)
        except TimeoutError:
            log.warning("a worker process did not answer in %.0f s", WORKER_TIMEOUT_SECONDS)
            self._handing = False
            processes = getattr(self._pool, "_processes", None) or {}
            for process in list(processes.values()):
                process.kill()
            raise

    def _split(self) -> list[tuple[int, int]]:
        """Clause ranges of ``chunk_clauses`` each, also for a corpus this process prepares
        alone: a chunk's temporary arrays are the chunk's size (the characters of 100,000
        clauses prepared at once took 450 MB more at the build's peak)."""
        total = len(self._raw)
        size = self.chunk_clauses
        return [(start, min(start + size, total)) for start in range(0, total, size)] or [(0, 0)]

    def close(self) -> None:
        """The workers let go (what they were handed is finished first: a few chunks); also
        when the build fails or needs nothing prepared after all."""
        self._futures.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
