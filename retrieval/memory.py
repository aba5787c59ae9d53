"""Memory a build freed, handed back to the system.

A build makes and frees hundreds of megabytes of small objects and temporary arrays, part of
them in other threads' allocation arenas; glibc keeps freed memory for reuse, so the process
would go on holding what the build no longer needs. ``malloc_trim`` returns it (on glibc; a
no-op elsewhere).
"""

from __future__ import annotations

import ctypes
import logging
from functools import lru_cache

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    """glibc, already loaded in this process (no ldconfig run to find it)."""
    for name in ("libc.so.6", None):
        try:
            libc = ctypes.CDLL(name)
        except OSError:
            continue
        if hasattr(libc, "malloc_trim"):
            return libc
    return None


def release_freed_memory() -> bool:
    """Return the memory freed so far to the system; False where the C library cannot."""
    libc = _libc()
    if libc is None:
        return False
    try:
        libc.malloc_trim(0)
    except Exception:  # a C library without it after all: nothing to return
        log.debug("malloc_trim failed", exc_info=True)
        return False
    return True
