"""A corpus version's clauses as columns: what an index keeps instead of 100,000 objects.

``ClauseColumns`` is a ``Sequence[StoredClause]`` over packed arrays (``retrieval.packed``)
that a process maps from its index mirror: a clause becomes an object when it is read (a hit,
a document's outline), and the columns a search needs for every clause (its document) are
plain arrays.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import overload

import numpy as np

from retrieval.packed import StringColumn
from retrieval.store.live import StoredClause

_TEXT_COLUMNS = ("id", "section", "headings", "text", "seams")
CLAUSES_KEPT = 4096  # clause objects kept once made (a few megabytes)


class ClauseColumns(Sequence[StoredClause]):
    """Clauses in reading order; ``doc[i]`` is clause ``i``'s row in ``doc_keys``."""

    def __init__(self, arrays: Mapping[str, np.ndarray], doc_keys: Sequence[str]) -> None:
        self.doc_keys = list(doc_keys)
        self.doc: np.ndarray = arrays["doc"]
        self.ordinal: np.ndarray = arrays["ordinal"]
        self._columns = {name: StringColumn.from_arrays(arrays, name) for name in _TEXT_COLUMNS}
        self._position_of: dict[str, int] | None = None
        # a question reads its sixty best clauses, and the next question many of the same
        self._clause = lru_cache(maxsize=CLAUSES_KEPT)(self._make)

    @staticmethod
    def arrays_of(
        clauses: Iterable[StoredClause], doc_keys: Sequence[str]
    ) -> dict[str, np.ndarray]:
        """The columns of ``clauses`` (whose documents are ``doc_keys``), for ``pack``."""
        row = {key: i for i, key in enumerate(doc_keys)}
        listed = list(clauses)
        arrays: dict[str, np.ndarray] = {
            "doc": np.array([row[c.doc_key] for c in listed], dtype=np.int32),
            "ordinal": np.array([c.ordinal for c in listed], dtype=np.int64),
        }
        json_of: dict[tuple[object, ...], str] = {}  # a document's clauses share headings

        def as_json(values: Sequence[object]) -> str:
            key = tuple(values)
            text = json_of.get(key)
            if text is None:
                text = json_of[key] = _json(values)
            return text

        values: dict[str, Iterable[str]] = {
            "id": (c.id for c in listed),
            "section": (c.section for c in listed),
            "headings": (as_json(c.headings) for c in listed),
            "text": (c.text for c in listed),
            "seams": (as_json(c.seams) for c in listed),
        }
        for name in _TEXT_COLUMNS:
            arrays.update(StringColumn.of(values[name]).arrays(name))
        return arrays

    def __len__(self) -> int:
        return len(self.doc)

    @overload
    def __getitem__(self, position: int) -> StoredClause: ...

    @overload
    def __getitem__(self, position: slice) -> list[StoredClause]: ...

    def __getitem__(self, position: int | slice) -> StoredClause | list[StoredClause]:
        if isinstance(position, slice):
            return [self[i] for i in range(*position.indices(len(self)))]
        position = int(position)
        if not -len(self) <= position < len(self):
            raise IndexError(position)
        return self._clause(position % len(self))

    def _make(self, position: int) -> StoredClause:
        columns = self._columns
        return StoredClause(
            id=columns["id"][position],
            doc_key=self.doc_keys[int(self.doc[position])],
            section=columns["section"][position],
            headings=_decoded(columns["headings"][position]),
            text=columns["text"][position],
            ordinal=int(self.ordinal[position]),
            seams=_decoded(columns["seams"][position]),
        )

    def __iter__(self) -> Iterator[StoredClause]:
        for position in range(len(self)):
            yield self._make(position)  # a walk over all of them: none kept

    def of_document(self, row: int) -> list[StoredClause]:
        """The clauses of document ``doc_keys[row]``, in reading order."""
        return [self[int(i)] for i in np.flatnonzero(self.doc == row)]

    @property
    def position_of(self) -> dict[str, int]:
        """Clause id → position (made on first use: paging and feedback need it, a start not)."""
        if self._position_of is None:
            self._position_of = {cid: i for i, cid in enumerate(self._columns["id"])}
        return self._position_of


def _json(values: Sequence[object]) -> str:
    return json.dumps(list(values), ensure_ascii=False)


@lru_cache(maxsize=4096)
def _decoded(raw: str) -> tuple:  # type: ignore[type-arg]
    """JSON text → tuple, each distinct text decoded once (a document's clauses share headings)."""
    return tuple(json.loads(raw)) if raw else ()
