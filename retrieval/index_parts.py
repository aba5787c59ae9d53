"""A corpus version's index parts, built once and shared by every process through the database.

Tokenising 100,000 clauses takes a minute; loading their counts takes milliseconds. The index
asks this layer for each part by name (a BM25 field, a mask, a list of texts) with a function
that builds it; the first process to need a part of a version builds and stores it
(``corpus_index_part``), the others load it. The fingerprint names the tokeniser, its data
and the code that builds the parts, so a process of another release never reads a part it would
have built differently. Two processes that race both build, one copy is kept: nothing is
corrupted, and a part that cannot be stored or read is simply built.

Each part is also mirrored as a file in the machine's cache folder and mapped into memory
(``retrieval.packed``): a process that starts on a version another process of the machine
already picked up reads nothing at all, and all of them share one copy in the page cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import mmap
import os
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import numpy as np
from sqlalchemy.engine import Engine

from retrieval.index import SparseBM25, bm25_arrays
from retrieval.mirror_files import map_file, opened, publish_file, write_file
from retrieval.packed import StringColumn, pack, unpack, write_packed
from retrieval.term_ids import TokenIds

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
    "retrieval/segment.py",
    "retrieval/_segment.c",
    "zhtext",
    "retrieval/index.py",
    "retrieval/counts.py",
    "retrieval/postings.py",
    "retrieval/_postings.c",
    "retrieval/index_parts.py",
    "retrieval/mirror_files.py",
    "retrieval/packed.py",
    "retrieval/word_ids.py",
    "retrieval/term_ids.py",
    "retrieval/store/columns.py",
)
_Part = TypeVar("_Part")
MIRRORS_KEPT = 4  # corpus contents mirrored on one machine (the live one and a few before)
MIRROR_PREFIX = "policybot-index-"  # the only folders of INDEX_DIR a process ever removes
PARTIAL_FILE_SECONDS = 3600  # a temporary file older than this was left by a killed process


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
            if file.is_file() and file.suffix in (".py", ".c", ".toml", ".txt", ".tsv", ".json"):
                digest.update(str(file.relative_to(_ROOT)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()[:32]


class IndexParts:
    """The parts of one corpus version's index: mapped when mirrored here, loaded when stored,
    else built and stored.

    ``engine=None`` builds every part and stores nothing (tests, benchmarks). ``mirror`` is a
    local folder for this version's content (see ``mirror_folder``): each part is kept there as
    a file that every process on the machine maps instead of reading it from the database.
    """

    def __init__(
        self,
        engine: Engine | None,
        version: int,
        fingerprint: str | None = None,
        *,
        mirror: Path | None = None,
    ):
        self.engine = engine
        self.version = version
        self.fingerprint = fingerprint or index_fingerprint()
        self.mirror = mirror
        self.mapped: list[str] = []  # names of the parts mapped from the local mirror
        self.loaded: list[str] = []  # names of the parts read from the database
        self.built: list[str] = []  # names of the parts this process built
        self._saving: list[Future[None]] = []
        self._executor: ThreadPoolExecutor | None = None
        self._finished = False  # a part built after ``finish`` is stored before it is served

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

        def make() -> dict[str, np.ndarray]:
            return bm25_arrays(build(), forward=forward, dtype=dtype, min_idf=min_idf)

        return self._part(name, make, SparseBM25.from_bytes)

    def array(self, name: str, build: Callable[[], np.ndarray]) -> np.ndarray:
        """A numeric array (a mask, a matrix of per-clause scores)."""
        return self._part(name, lambda: {"array": build()}, lambda b: unpack(b)["array"])

    def texts(self, name: str, build: Callable[[], Iterable[str]]) -> StringColumn:
        """A list of strings (per-clause normalised texts), decoded a row at a time."""
        return self._part(
            name,
            lambda: StringColumn.of(build()).arrays(name),
            lambda blob: StringColumn.from_arrays(unpack(blob), name),
        )

    def arrays(
        self,
        name: str,
        build: Callable[[], dict[str, np.ndarray]],
        check: Callable[[dict[str, np.ndarray]], object] = lambda arrays: None,
    ) -> dict[str, np.ndarray]:
        """Named arrays that belong together (a table's columns); ``check`` raises on arrays
        that do not make a whole part (then it is read or built again)."""

        def decode(blob: bytes | bytearray | mmap.mmap) -> dict[str, np.ndarray]:
            arrays = unpack(blob)
            check(arrays)
            return arrays

        return self._part(name, build, decode)

    def ready(self, name: str) -> bool:
        """Whether the part can be had without building it: mirrored here or stored whole."""
        if self.mirror is not None and (self.mirror / f"{name}.part").is_file():
            return True
        if self.engine is None:
            return False
        from retrieval.store import index_part_stored

        try:
            return index_part_stored(self.engine, self.version, name, self.fingerprint)
        except Exception:  # the database briefly away: the part is built if it must be
            log.warning("could not look up index part %s", name, exc_info=True)
            return False

    def _part(
        self,
        name: str,
        build: Callable[[], Mapping[str, np.ndarray]],
        decode: Callable[[bytes | bytearray | mmap.mmap], _Part],
    ) -> _Part:
        """The part: mapped from the mirror, read from the database (and mirrored), or built
        (its arrays written straight into the mirror, then stored from there). Whatever cannot
        be decoded is dropped, never served."""
        from retrieval.store import delete_index_part, load_index_part

        part = self._mapped(name, decode)
        if part is not None:
            self.mapped.append(name)
            return part
        if self.engine is not None and self._copy(name):  # straight from the database to a file
            part = self._mapped(name, decode)
            if part is not None:
                self.loaded.append(name)
                return part
        blob: bytes | bytearray | None = None
        if self.engine is not None:
            try:
                blob = load_index_part(self.engine, self.version, name, self.fingerprint)
                if blob is not None:
                    part = decode(blob)
                    self.loaded.append(name)
                    return part
            except Exception:  # unreadable or of another layout: replaced by a new build
                log.warning("index part %s of version %s unreadable", name, self.version)
                if blob is not None:
                    delete_index_part(self.engine, self.version, name, self.fingerprint)
        arrays = build()
        self.built.append(name)
        written = self._write(name, arrays)
        mapping = map_file(written) if written is not None else None
        if written is not None and mapping is not None:  # served from the page cache, shared
            del arrays
            # flushed to the disk and named as the part while the next part is built (the
            # mapping serves meanwhile), then stored from the file
            self._later(self._publish, name, written, self._stored_from(written, mapping))
            part = self._mapped(name, decode, mapping)
            if part is not None:
                return part
            blob = bytearray(mapping)
        else:  # no mirror: the part is held in memory, packed
            if written is not None:
                written.unlink(missing_ok=True)
            blob = pack(arrays)
            del arrays
            if self.engine is not None:
                self._later(self._save, name, blob, held=True)
        return decode(blob)

    def _stored_from(self, path: Path, mapping: mmap.mmap) -> BinaryIO | mmap.mmap | None:
        """What a mirrored part is stored from (None: no database; see ``opened``)."""
        return None if self.engine is None else opened(path, mapping)

    def _publish(self, name: str, written: Path, stored_from: BinaryIO | mmap.mmap | None) -> None:
        """A part's file written by ``_write`` flushed and named as the part, then stored."""
        assert self.mirror is not None
        publish_file(written, self.mirror / f"{name}.part")
        if stored_from is not None:
            self._save(name, stored_from)

    def _later(self, job: Callable[..., None], *args: Any, held: bool = False) -> None:
        """``job`` in a background thread, one job at a time (a part written to its file, a
        part stored in the database). A part read from its mirrored file waits there costing
        nothing; one ``held`` in memory (no mirror) holds its bytes, so the part after it
        waits until it is stored. After ``finish``, in line."""
        if self._finished:  # the saving thread was let go: done here, in line
            job(*args)
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="index-parts")
        if held:
            for saving in self._saving:
                saving.result()
        self._saving = [s for s in self._saving if not s.done()]
        saving = self._executor.submit(job, *args)
        self._saving.append(saving)
        _PENDING.add(saving)
        saving.add_done_callback(_PENDING.discard)

    def _save(self, name: str, data: bytearray | mmap.mmap | BinaryIO) -> None:
        from retrieval.store import save_index_part

        assert self.engine is not None
        try:
            save_index_part(self.engine, self.version, name, self.fingerprint, data)
        except Exception:  # the database refused it: this process still has its part
            log.warning("could not store index part %s", name, exc_info=True)
        finally:
            if not isinstance(data, bytearray | mmap.mmap):
                data.close()

    def finish(self, *, wait: bool = True) -> None:
        """No more parts: wait until every part this process built is stored for the other
        processes, or (``wait=False``) leave that to the saving thread, which goes on in the
        background and which the interpreter waits for at exit. Also after a failed build."""
        self._finished = True
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)  # what is queued is still stored
        if wait:
            saving, self._saving = self._saving, []
            for future in saving:
                future.result()

    def _mapping(self, name: str) -> mmap.mmap | None:
        """A part's mirrored file, mapped (None: not mirrored, or not ours to read)."""
        return None if self.mirror is None else map_file(self.mirror / f"{name}.part")

    def _mapped(
        self,
        name: str,
        decode: Callable[[bytes | bytearray | mmap.mmap], _Part],
        mapping: mmap.mmap | None = None,
    ) -> _Part | None:
        """The part decoded from its mirrored file, mapped (``mapping``: mapped already;
        None: not mirrored, or dropped)."""
        mapping = mapping if mapping is not None else self._mapping(name)
        if mapping is None:
            return None
        try:
            return decode(mapping)
        except Exception:  # a foreign or damaged file is dropped, not served
            assert self.mirror is not None
            path = self.mirror / f"{name}.part"
            log.warning("mirrored index part %s damaged; dropping it", path)
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
            return None

    def _copy(self, name: str) -> bool:
        """Mirror a part stored in the database, written a chunk at a time."""
        from retrieval.store import copy_index_part

        engine = self.engine
        if engine is None:
            return False
        copied = self._mirror_file(
            name,
            lambda file: copy_index_part(engine, self.version, name, self.fingerprint, file),
            publish=True,
        )
        return copied is not None

    def _write(self, name: str, arrays: Mapping[str, np.ndarray]) -> Path | None:
        """A part this process built, its arrays packed straight into a file of the mirror
        under a temporary name (None: not written); ``_publish`` flushes it to the disk and
        names it as the part, off the build's path (the flush of 300 MB of parts took half a
        second of a build at 100,000 clauses)."""
        return self._mirror_file(name, lambda file: write_packed(arrays, file) > 0)

    def _mirror_file(
        self, name: str, fill: Callable[[BinaryIO], bool], *, publish: bool = False
    ) -> Path | None:
        """A part's file in the mirror (see ``mirror_files.write_file``)."""
        return None if self.mirror is None else write_file(self.mirror, name, fill, publish)


_PENDING: set[Future[None]] = set()  # parts being stored by any IndexParts of this process


def wait_for_saves(timeout: float | None = None) -> None:
    """Wait until every part this process is storing is stored (before a test's database
    goes, or a command that wants them stored before it returns)."""
    futures_wait(list(_PENDING), timeout=timeout)


def mirror_folder(root: Path, content_key: str, fingerprint: str | None = None) -> Path:
    """The local folder of one corpus content's parts under ``root``, named by the index code's
    fingerprint and the content (documents and their digests), never by a database's version
    number: two databases can both have a version 3, and the same content is the same index.

    Folders not used for a while are removed (the newest few are kept; a folder is marked as
    used by every process that opens it), and so are files a killed process left half
    written. Only folders named as this function names them are ever touched, whatever
    else ``root`` holds.
    """
    folder = root / f"{MIRROR_PREFIX}{(fingerprint or index_fingerprint())[:12]}-{content_key}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.utime(folder)
        others = sorted(
            (p for p in root.iterdir() if p.name.startswith(MIRROR_PREFIX) and p != folder),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        for stale in others[MIRRORS_KEPT - 1 :]:
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)  # a process mapping it keeps its pages
        for partial in folder.glob(".*"):  # temporary files of a process killed while writing
            if partial.stat().st_mtime < time.time() - PARTIAL_FILE_SECONDS:
                partial.unlink(missing_ok=True)
    except OSError:
        log.warning("could not prepare the index mirror %s", folder, exc_info=True)
    return folder
