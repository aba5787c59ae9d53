"""Start-up data built once per machine and kept in a cache folder, not rebuilt by each process.

The gazetteer (thousands of places, read from data files and jieba's dictionary) takes a
second to build and a tenth of one to load from a pickle; a ``policybot ask`` pays only the
latter. A cache file is named by a digest of everything it is built from (the data files,
the code that builds it, the library versions), so an edit builds a new one and a stale one
is never read. Files are written to a temporary name and renamed, so a reader sees a whole
file or none; a file that cannot be read or written is simply built again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)
_Value = TypeVar("_Value")


def cache_key(inputs: Iterable[Path | str]) -> str:
    """A digest of the files (their bytes) and strings (versions) a value is built from."""
    digest = hashlib.sha256(sys.version.encode())
    for item in inputs:
        digest.update(item.read_bytes() if isinstance(item, Path) else item.encode())
    return digest.hexdigest()[:24]


def cached(
    name: str,
    inputs: Iterable[Path | str],
    build: Callable[[], _Value],
    directory: Path | None,
) -> _Value:
    """``build()``, or its copy from ``directory`` (None: no cache, always build)."""
    if directory is None:
        return build()
    path = directory / f"{name}-{cache_key(inputs)}.pickle"
    try:
        return pickle.loads(path.read_bytes())
    except FileNotFoundError:
        pass
    except Exception:  # a truncated or foreign file: build it again
        log.warning("cache file %s unreadable; rebuilding it", path)
    value = build()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}-")
        with os.fdopen(handle, "wb") as file:
            pickle.dump(value, file, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
        for old in directory.glob(f"{name}-*.pickle"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        log.warning("could not write cache file %s", path, exc_info=True)
    return value
