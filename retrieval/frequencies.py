"""jieba's prefix dictionary looked up word by word from a file, until a process cuts enough
text to want all of it.

Unpickling the dictionary (half a million words and prefixes) is a fifth of a second of every
start, yet a question and its answer's excerpts look up a few thousand entries. A
``FrequencyTable`` stands in for jieba's ``FREQ`` dict: it reads entries from an SQLite file made
once per machine and remembers them; once a process has looked up more than a threshold of
entries (it is building an index), it loads the whole dictionary and hands jieba the plain dict,
whose lookups are five times cheaper. Either way jieba sees the same counts, so words are cut
exactly the same.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import closing
from pathlib import Path

log = logging.getLogger(__name__)

FULL_LOAD_AFTER = 50_000  # lookups before the whole dictionary is loaded (an answer: ~5,000)
_NOT_THERE = -1  # remembered miss (jieba's counts are never negative)


def write_table(path: Path, frequencies: dict[str, int], total: int) -> None:
    """The dictionary as an SQLite file (written to a temporary name, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    os.close(handle)
    try:
        with closing(sqlite3.connect(temporary)) as connection, connection:
            connection.execute("CREATE TABLE freq (word TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID")
            connection.execute("CREATE TABLE meta (total INTEGER)")
            connection.executemany("INSERT INTO freq VALUES (?, ?)", frequencies.items())
            connection.execute("INSERT INTO meta VALUES (?)", (total,))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class FrequencyTable(MutableMapping[str, int]):
    """jieba's ``FREQ`` read entry by entry from ``path`` (see the module).

    ``load_all`` gives the whole dictionary; ``on_loaded`` receives it (with every entry written
    here since) when the threshold is passed, to put it in this table's place.
    """

    def __init__(
        self,
        path: Path,
        *,
        load_all: Callable[[], dict[str, int]],
        on_loaded: Callable[[dict[str, int]], None],
        full_load_after: int = FULL_LOAD_AFTER,
    ) -> None:
        self._connection = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, check_same_thread=False
        )
        (self.total,) = self._connection.execute("SELECT total FROM meta").fetchone()
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}
        self._written: dict[str, int] = {}
        self._lookups = 0
        self._load_all, self._on_loaded = load_all, on_loaded
        self._full_load_after = full_load_after
        self._full: dict[str, int] | None = None

    def _count(self, word: str) -> int:
        self._lookups += 1
        if self._full is None and self._lookups >= self._full_load_after:
            self.load_all()  # this process cuts text in bulk
        full = self._full
        if full is not None:
            return full.get(word, _NOT_THERE)
        seen = self._seen.get(word)
        if seen is not None:
            return seen
        with self._lock:  # a word added meanwhile (add_word) wins over what the file says
            try:
                row = self._connection.execute(
                    "SELECT n FROM freq WHERE word = ?", (word,)
                ).fetchone()
            except sqlite3.Error:  # the file went bad under us: use the whole dictionary
                row = None
                broken = True
            else:
                broken = False
            if not broken:
                count = _NOT_THERE if row is None else int(row[0])
                return self._seen.setdefault(word, self._written.get(word, count))
        return self.load_all().get(word, _NOT_THERE)

    def load_all(self) -> dict[str, int]:
        """The whole dictionary with this table's writes, handed to ``on_loaded`` once."""
        with self._lock:
            if self._full is None:
                full = self._load_all()
                full.update(self._written)
                self._full = full
                self._on_loaded(full)
                self._seen.clear()
                self._connection.close()  # every lookup is in memory from now on
            return self._full

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self._count(word) != _NOT_THERE

    def __getitem__(self, word: str) -> int:
        count = self._count(word)
        if count == _NOT_THERE:
            raise KeyError(word)
        return count

    def get(self, word: str, default: int | None = None) -> int | None:  # type: ignore[override]
        count = self._count(word)
        return default if count == _NOT_THERE else count

    def __setitem__(self, word: str, count: int) -> None:
        with self._lock:
            self._seen[word] = count
            self._written[word] = count
            if self._full is not None:  # a writer that still held this table
                self._full[word] = count

    def __delitem__(self, word: str) -> None:
        raise TypeError("jieba never removes a dictionary entry")

    def __iter__(self) -> Iterator[str]:
        return iter(self.load_all())

    def __len__(self) -> int:
        return len(self.load_all())
