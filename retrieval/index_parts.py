"""A corpus version's index parts, built once and shared by every process through the database.

Tokenising 100,000 clauses takes a minute; loading their counts takes milliseconds. The index
asks this layer for each part by name (a BM25 field, a mask, a list of texts) with a function
that builds it; the first process to need a part of a version builds and stores it
(``corpus_index_part``), the others load it. The fingerprint names the tokeniser, its data
and the code that builds the parts, so a process of another release never reads a part it would
have built differently. Two processes that race both build, one copy is kept: nothing is
corrupted, and a part that cannot be stored or read is simply built.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import numpy as np
from sqlalchemy.engine import Engine

from retrieval.index import SparseBM25, TokenIds

log = logging.getLogger(__name__)

_PACKAGE = Path(__file__).resolve().parent
_ROOT = _PACKAGE.parent
# what decides the parts' content: the tokeniser's data, the lexicon, and the code that cuts
# and indexes clauses (an edit to any of them builds new parts)
_INPUTS = (
    "retrieval/data",
    "intents",
    "retrieval/search",
    "retrieval/tokenize.py",
    "zhtext",
    "retrieval/index.py",
    "retrieval/index_parts.py",
)
_SEPARATOR = "\x00"
_Part = TypeVar("_Part")


@lru_cache(maxsize=1)
def index_fingerprint() -> str:
    """A digest of every input that decides what the index parts contain."""
    import jieba
    import opencc

    digest = hashlib.sha256()
    digest.update(f"jieba {jieba.__version__} numpy {np.__version__}".encode())
    digest.update(str(getattr(opencc, "__version__", "")).encode())
    for name in _INPUTS:
        path = _ROOT / name
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.is_file() and file.suffix in (".py", ".toml", ".txt", ".tsv", ".json"):
                digest.update(str(file.relative_to(_ROOT)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()[:32]


class IndexParts:
    """The parts of one corpus version's index: loaded when stored, else built and stored.

    ``engine=None`` builds every part and stores nothing (tests, benchmarks).
    """

    def __init__(self, engine: Engine | None, version: int, fingerprint: str | None = None):
        self.engine = engine
        self.version = version
        self.fingerprint = fingerprint or index_fingerprint()
        self.loaded: list[str] = []  # names of the parts read from the database
        self.built: list[str] = []  # names of the parts this process built

    def bm25(
        self,
        name: str,
        build: Callable[[], TokenIds | Iterable[Iterable[str]]],
        *,
        forward: bool = False,
        dtype: type[np.floating] = np.float64,
        min_idf: float | None = None,
    ) -> SparseBM25:
        """A BM25 field from the clauses ``build`` encodes (``TokenIds``) or the token lists it
        yields (one per clause, encoded as they come: a corpus's token strings are never all
        held at once)."""

        def make() -> SparseBM25:
            built = build()
            if isinstance(built, TokenIds):
                encoded = built
            else:
                encoded = TokenIds()
                for tokens in built:
                    encoded.add(tokens)
            if len(encoded.offsets) < 2:
                encoded.add(["∅"])
            return SparseBM25.from_token_ids(
                encoded.ids,
                encoded.offsets,
                encoded.terms(),
                forward=forward,
                dtype=dtype,
                min_idf=min_idf,
            )

        return self._part(name, make, SparseBM25.to_bytes, SparseBM25.from_bytes)

    def array(self, name: str, build: Callable[[], np.ndarray]) -> np.ndarray:
        """A numeric array (a mask, a matrix of per-clause scores)."""
        return self._part(name, build, _array_bytes, _array_from_bytes)

    def texts(self, name: str, build: Callable[[], list[str]]) -> list[str]:
        """A list of strings (per-clause normalised texts)."""
        return self._part(
            name,
            build,
            lambda texts: _SEPARATOR.join(texts).encode("utf-8"),
            lambda blob: blob.decode("utf-8").split(_SEPARATOR) if blob else [],
        )

    def _part(
        self,
        name: str,
        build: Callable[[], _Part],
        dump: Callable[[_Part], bytes],
        load: Callable[[bytes], _Part],
    ) -> _Part:
        from retrieval.store import load_index_part, save_index_part

        if self.engine is not None:
            try:
                blob = load_index_part(self.engine, self.version, name, self.fingerprint)
                if blob is not None:
                    part = load(blob)
                    self.loaded.append(name)
                    return part
            except Exception:  # unreadable or of another layout: build it instead
                log.warning("index part %s of version %s unreadable", name, self.version)
        part = build()
        self.built.append(name)
        if self.engine is not None:
            try:
                save_index_part(self.engine, self.version, name, self.fingerprint, dump(part))
            except Exception:  # the database refused it: this process still has its part
                log.warning("could not store index part %s", name, exc_info=True)
        return part


def _array_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _array_from_bytes(blob: bytes) -> np.ndarray:
    return np.load(io.BytesIO(blob), allow_pickle=False)
