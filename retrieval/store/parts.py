"""Index parts kept with their corpus version, so that a second process loads what the first
one built instead of building it again (see :mod:`retrieval.index_parts`)."""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from typing import BinaryIO

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from retrieval.store.live import read_live_version
from retrieval.store.tables import index_part_table, utc_now

_PART_CHUNK = 16 * 2**20  # bytes of an index part per row (read from its file one at a time)


def load_index_part(engine: Engine, version: int, name: str, fingerprint: str) -> bytes | None:
    """A stored part of version ``version``'s index, or None when no process stored it yet."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(index_part_table.c.chunks, index_part_table.c.data)
            .where(
                index_part_table.c.version == version,
                index_part_table.c.name == name,
                index_part_table.c.fingerprint == fingerprint,
            )
            .order_by(index_part_table.c.chunk)
        ).all()
    if not rows or len(rows) != rows[0].chunks:
        return None
    return b"".join(bytes(row.data) for row in rows)


def copy_index_part(
    engine: Engine, version: int, name: str, fingerprint: str, out: BinaryIO
) -> bool:
    """Write a stored part to ``out`` a chunk at a time (a part of hundreds of megabytes is
    never held whole); False when it is not stored whole (``out`` then holds a fragment)."""
    where = (
        index_part_table.c.version == version,
        index_part_table.c.name == name,
        index_part_table.c.fingerprint == fingerprint,
    )
    with engine.connect() as connection:
        chunks = connection.execute(
            select(index_part_table.c.chunks).where(*where, index_part_table.c.chunk == 0)
        ).scalar_one_or_none()
        if chunks is None:
            return False
        written = 0
        for chunk in range(chunks):  # one row at a time: a driver may fetch a result whole
            data = connection.execute(
                select(index_part_table.c.data).where(*where, index_part_table.c.chunk == chunk)
            ).scalar_one_or_none()
            if data is None:
                return False
            out.write(data)
            written += 1
    return written == chunks


def index_part_stored(engine: Engine, version: int, name: str, fingerprint: str) -> bool:
    """Whether a part is stored whole (every chunk of it), without reading it."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(index_part_table.c.chunks).where(
                index_part_table.c.version == version,
                index_part_table.c.name == name,
                index_part_table.c.fingerprint == fingerprint,
            )
        ).all()
    return bool(rows) and len(rows) == rows[0].chunks


def delete_index_part(engine: Engine, version: int, name: str, fingerprint: str) -> None:
    """Remove a stored part (one that cannot be read: the next build stores a good one)."""
    with engine.begin() as connection:
        connection.execute(
            delete(index_part_table).where(
                index_part_table.c.version == version,
                index_part_table.c.name == name,
                index_part_table.c.fingerprint == fingerprint,
            )
        )


def save_index_part(
    engine: Engine,
    version: int,
    name: str,
    fingerprint: str,
    data: bytes | bytearray | mmap.mmap | BinaryIO,
) -> bool:
    """Store a part of a version's index for other processes, in chunks (SQLite and PostgreSQL
    refuse a value over 1 GB); False when another process stored it first (its copy is the
    same) or the version is no longer live. ``data`` is the part's bytes or its file, open
    for reading: a file is read a chunk at a time, so a part served from a memory map is not
    brought into the process's own memory by being stored (reading all of a mapping made
    every page of it count in the process's resident size)."""
    try:
        with engine.begin() as connection:
            if read_live_version(connection) != version:
                return False
            pieces = _pieces(data)
            for chunk, piece in enumerate(pieces):
                connection.execute(
                    insert(index_part_table).values(
                        version=version,
                        name=name,
                        fingerprint=fingerprint,
                        chunk=chunk,
                        chunks=len(pieces),
                        data=piece,
                        created_at=utc_now(),
                    )
                )
    except IntegrityError:
        return False
    return True


def _pieces(data: bytes | bytearray | mmap.mmap | BinaryIO) -> list[memoryview] | _FileChunks:
    if isinstance(data, bytes | bytearray | mmap.mmap):
        view = memoryview(data)  # chunks are views of the part, not copies of it
        return [view[i : i + _PART_CHUNK] for i in range(0, len(data), _PART_CHUNK)] or [view]
    return _FileChunks(data)


class _FileChunks:
    """A part's file as its chunks, each read when stored (one chunk held at a time)."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        size = os.fstat(file.fileno()).st_size - file.tell()
        self._count = max(1, -(-size // _PART_CHUNK))

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self._count):
            yield self._file.read(_PART_CHUNK)
