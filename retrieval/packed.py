"""Named numpy arrays in one flat buffer that maps back without copying.

An index part is stored in the database as bytes and mirrored in a local file; a process maps
the file and reads each array in place (``np.frombuffer`` on the mapping), so picking up a
100,000-clause index costs page faults for what a question touches, not a copy of everything.
``np.savez`` cannot do this (its members are read into memory), hence this small layout:

    b"PBPACK1\\n" · header length (8 bytes, little endian) · header (JSON: name → dtype,
    shape, offset) · the arrays, each starting on a 64-byte boundary

Strings are kept as one UTF-8 array and offsets (``pack_strings``/``StringColumn``): a list of
100,000 Python strings is 100,000 objects; a column is two arrays and decodes the rows asked for.
"""

from __future__ import annotations

import itertools
import json
import mmap
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, BinaryIO, overload

import numpy as np

MAGIC = b"PBPACK1\n"
_ALIGN = 64


def pack(arrays: Mapping[str, np.ndarray]) -> bytearray:
    """The arrays in one buffer (see the module's layout), each copied into it once (a field
    of hundreds of megabytes is not copied again on the way)."""
    contiguous, offsets, head, total = _layout(arrays)
    out = bytearray(total)
    out[: len(head)] = head
    start = _start(head)
    for name, array in contiguous.items():
        if array.size:
            place = np.frombuffer(out, array.dtype, array.size, start + offsets[name])
            place[...] = array.reshape(-1)
    return out


def write_packed(arrays: Mapping[str, np.ndarray], file: BinaryIO) -> int:
    """``pack``'s bytes written to ``file`` array by array (no copy of them all in memory: a
    field's arrays and its packed buffer would be held at once); the number of bytes."""
    contiguous, offsets, head, total = _layout(arrays)
    file.write(head)
    written, start = len(head), _start(head)
    for name, array in contiguous.items():
        at = start + offsets[name]
        if at > written:
            file.write(bytes(at - written))  # the alignment padding pack leaves as zeros
            written = at
        if array.size:
            file.write(array.reshape(-1).data.cast("B"))
            written += array.nbytes
    if total > written:
        file.write(bytes(total - written))
    return total


def _layout(
    arrays: Mapping[str, np.ndarray],
) -> tuple[dict[str, np.ndarray], dict[str, int], bytes, int]:
    """The arrays made contiguous, each one's offset after the header, the magic with the
    header's length and the header, and the whole size."""
    entries: dict[str, list[Any]] = {}
    offset = 0
    contiguous = {  # (np.ascontiguousarray would make a 0-d array 1-d)
        name: a if a.flags.c_contiguous else a.copy(order="C") for name, a in arrays.items()
    }
    for name, array in contiguous.items():
        if array.dtype.hasobject:
            raise ValueError(f"array {name} holds Python objects")
        offset = -(-offset // _ALIGN) * _ALIGN
        entries[name] = [array.dtype.str, list(array.shape), offset]
        offset += array.nbytes
    header = json.dumps(entries, separators=(",", ":")).encode()
    head = MAGIC + struct.pack("<Q", len(header)) + header
    return contiguous, {n: e[2] for n, e in entries.items()}, head, _start(head) + offset


def _start(head: bytes) -> int:
    """Where the arrays start: after the magic, the header's length and the header, aligned."""
    return -(-len(head) // _ALIGN) * _ALIGN


def unpack(buffer: bytes | bytearray | memoryview | mmap.mmap) -> dict[str, np.ndarray]:
    """The arrays of ``pack``, as read-only views into ``buffer`` (bytes or a memory map).

    ValueError when ``buffer`` is not a packed buffer.
    """
    view = memoryview(buffer).toreadonly()
    if bytes(view[: len(MAGIC)]) != MAGIC:
        raise ValueError("not a packed index part")
    try:
        (length,) = struct.unpack("<Q", view[len(MAGIC) : len(MAGIC) + 8])
        header = json.loads(bytes(view[len(MAGIC) + 8 : len(MAGIC) + 8 + length]))
        start = -(-(len(MAGIC) + 8 + length) // _ALIGN) * _ALIGN
        arrays = {}
        for name, (dtype, shape, offset) in header.items():
            count = int(np.prod(shape)) if shape else 1
            array = np.frombuffer(view, dtype=np.dtype(dtype), count=count, offset=start + offset)
            arrays[name] = array.reshape(tuple(shape))
    except (struct.error, TypeError, KeyError, AttributeError) as error:  # cut short or garbled
        raise ValueError(f"damaged packed index part: {error}") from error
    return arrays


def pack_strings(strings: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
    """Strings as (UTF-8 bytes, offsets): string ``i`` is ``data[offsets[i]:offsets[i+1]]``."""
    encoded = [s.encode("utf-8") for s in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    return data, offsets


class StringColumn(Sequence[str]):
    """A packed list of strings, decoded one row at a time when read."""

    def __init__(self, data: np.ndarray, offsets: np.ndarray) -> None:
        self._data, self._offsets = data, offsets
        self._length = len(offsets) - 1

    @classmethod
    def of(cls, strings: Iterable[str]) -> StringColumn:
        return cls(*pack_strings(strings))

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, position: int) -> str: ...

    @overload
    def __getitem__(self, position: slice) -> list[str]: ...

    def __getitem__(self, position: int | slice) -> str | list[str]:
        if isinstance(position, slice):
            return [self[i] for i in range(*position.indices(self._length))]
        if not -self._length <= position < self._length:
            raise IndexError(position)
        position %= self._length
        start, end = self._offsets[position], self._offsets[position + 1]
        return self._data[start:end].tobytes().decode("utf-8")

    def __iter__(self) -> Iterator[str]:
        data, offsets = self._data, self._offsets.tolist()
        for start, end in itertools.pairwise(offsets):
            yield data[start:end].tobytes().decode("utf-8")

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The column as arrays for ``pack`` (``prefix``: its name there)."""
        return {f"{prefix}.data": self._data, f"{prefix}.offsets": self._offsets}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str) -> StringColumn:
        return cls(arrays[f"{prefix}.data"], arrays[f"{prefix}.offsets"])
