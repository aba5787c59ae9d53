"""The files of an index mirror (see ``retrieval.index_parts``): written under a temporary
name, flushed to the disk and only then named as the part (a reader sees all of a part or none
of it, after a crash too), mapped for reading, and read back a chunk at a time when stored."""

from __future__ import annotations

import logging
import mmap
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)


def write_file(
    folder: Path, name: str, fill: Callable[[BinaryIO], bool], publish: bool = False
) -> Path | None:
    """Part ``name``'s file in ``folder``, written by ``fill`` to a temporary name, readable by
    the machine's other users like any file they create; with ``publish``, also flushed and
    named as the part. Its path, or None when it cannot be written or ``fill`` fails."""
    temporary: str | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}-")
        with os.fdopen(handle, "wb") as file:
            filled = fill(file)
            file.flush()
            os.fchmod(file.fileno(), 0o666 & ~_UMASK)
        if filled:
            if not publish:
                return Path(temporary)
            final = folder / f"{name}.part"
            return final if publish_file(Path(temporary), final) else None
    except Exception:  # a full disk, a database gone meanwhile: read or build it instead
        log.warning("could not mirror index part %s in %s", name, folder, exc_info=True)
    if temporary is not None:
        Path(temporary).unlink(missing_ok=True)
    return None


def publish_file(written: Path, final: Path) -> bool:
    """``written`` flushed to the disk, then renamed ``final`` (False: it could not be; it is
    removed, and the next process builds or reads the part)."""
    try:
        with written.open("rb") as file:
            os.fsync(file.fileno())
        os.replace(written, final)
        return True
    except OSError:  # removed meanwhile, a full disk
        log.warning("could not mirror index part %s", final, exc_info=True)
        written.unlink(missing_ok=True)
        return False


def opened(path: Path, mapping: mmap.mmap) -> BinaryIO | mmap.mmap:
    """What a mirrored part is stored from: its file, open, read a chunk at a time (read
    through the mapping, every page of the part would count in this process's resident size,
    ~400 MB at 100,000 clauses, though searches touch few of them), or the mapping when the
    file cannot be opened. The reader closes it."""
    try:
        return open(path, "rb")
    except OSError:
        return mapping


def map_file(path: Path) -> mmap.mmap | None:
    """``path`` mapped for reading (None: missing, or not ours to read)."""
    try:
        with path.open("rb") as file:
            return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):  # not ours to read (another user's file): leave it
        log.warning("mirrored index part %s unreadable", path, exc_info=True)
        return None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()  # read once at import (os.umask can only be read by setting it)
