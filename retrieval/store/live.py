"""Reading the live corpus: which version is live, its documents and clauses, a document's text.

Reads are not wrapped in a snapshot (SQLite's driver starts no transaction for reads), so a
whole-corpus read checks the live version again afterwards and re-reads when a reload
committed meanwhile.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

from sqlalchemy import Text, cast, select
from sqlalchemy.engine import Connection, Engine

from retrieval.messages import message
from retrieval.places import load_gazetteer
from retrieval.store.tables import STATE_ID, clause_table, document_table, state_table, text_table


class CorpusBusyError(RuntimeError):
    """Another reload held the corpus for too long; nothing was changed."""


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """A live document with the metadata of the contract's document object."""

    key: str
    doc_number: str | None
    title: str
    authority: str | None
    recipient: str | None
    date: str | None  # ISO 8601
    city: str | None
    district: str | None
    source: str
    clause_count: int
    province: str | None = None
    level: str | None = None  # national | province | city | district; None: place unknown
    title_source: str = "header"
    missing: tuple[str, ...] = ()

    @property
    def place_label(self) -> str:
        """Where the document applies, as people say it: 国家, 广东省, 深圳·南山区, 地区未知."""
        if self.level == "national":
            return message("places", "national")
        if self.level == "province":
            province = load_gazetteer().province(self.province or "")
            return province.full if province else message("places", "some_province")
        if self.city and self.district:
            return message("places", "district", city=self.city, district=self.district)
        return self.city or message("places", "unknown")

    def to_json(self) -> dict[str, Any]:
        """The contract's document object (``policybot docs --json``)."""
        return {
            "doc_number": self.doc_number,
            "title": self.title,
            "authority": self.authority,
            "recipient": self.recipient,
            "date": self.date,
            "city": self.city,
            "district": self.district,
            "province": self.province,
            "level": self.level,
            "title_source": self.title_source,
            "missing": list(self.missing),
            "source": self.source,
            "clauses": self.clause_count,
        }


@dataclass(frozen=True, slots=True)
class StoredClause:
    """A live clause; ``id`` is the passage id answers cite."""

    id: str
    doc_key: str
    section: str
    headings: tuple[str, ...]
    text: str
    ordinal: int
    seams: tuple[int, ...] = ()  # offsets where the source had markup (see ParsedClause)


@dataclass(frozen=True, slots=True)
class LiveCorpus:
    """One complete corpus version: documents by key, clauses in reading order.

    ``content_key`` is a digest of the documents' keys and content fingerprints: what the
    version holds, whatever its number in whichever database (an index mirror is named by it).
    """

    version: int
    documents: dict[str, StoredDocument]
    clauses: Sequence[StoredClause]
    content_key: str = ""

    def let_go_of_clauses(self) -> None:
        """The clauses read from the database let go (read again if asked for): a build
        that has made its parts of them need not hold them."""
        if isinstance(self.clauses, _VersionClauses):
            self.clauses.forget()


class _VersionClauses(Sequence[StoredClause]):
    """A version's clauses, read from the database the first time they are needed: a process
    whose index is mirrored never needs them."""

    def __init__(self, engine: Engine, version: int, count: int) -> None:
        self._engine, self._version, self._count = engine, version, count
        self._clauses: list[StoredClause] | None = None

    def _read(self) -> list[StoredClause]:
        if self._clauses is None:
            with self._engine.connect() as connection:
                clauses = _read_clauses(connection, self._version)
            if len(clauses) != self._count:  # a later reload removed this version meanwhile
                raise CorpusBusyError(
                    message("errors", "busy", error="corpus version replaced while read")
                )
            self._clauses = clauses
        return self._clauses

    def forget(self) -> None:
        self._clauses = None

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, position: int) -> StoredClause: ...

    @overload
    def __getitem__(self, position: slice) -> list[StoredClause]: ...

    def __getitem__(self, position: int | slice) -> StoredClause | list[StoredClause]:
        return self._read()[position]

    def __iter__(self) -> Iterator[StoredClause]:
        return iter(self._read())


def read_live_version(connection: Connection) -> int | None:
    """The live version as seen on ``connection`` (inside a reload's transaction, too)."""
    return connection.execute(
        select(state_table.c.live_version).where(state_table.c.id == STATE_ID)
    ).scalar_one_or_none()


def live_version(engine: Engine) -> int | None:
    """The live corpus version (None when none is loaded): one cheap query, for polling."""
    with engine.connect() as connection:
        return read_live_version(connection)


def load_live_corpus(engine: Engine, *, lazy_clauses: bool = False) -> LiveCorpus | None:
    """The live corpus, whole and of one version (None when none has been loaded yet);
    ``lazy_clauses``: its clauses are read when first needed, not now (that read raises
    CorpusBusyError if a reload removed the version meanwhile; bot.live_corpus then indexes
    the new one).

    Reads are not wrapped in a snapshot (SQLite's driver starts no transaction for reads), so
    the version is checked again after reading: a reload that committed meanwhile is re-read.
    """
    for _attempt in range(20):
        with engine.connect() as connection:
            version = read_live_version(connection)
            if version is None:
                return None
            rows = connection.execute(
                select(document_table)
                .where(document_table.c.version == version)
                .order_by(document_table.c.key)
            ).all()
            documents = {row.key: stored_document(row) for row in rows}
            content = hashlib.sha256()
            for row in rows:
                content.update(f"{row.key}\x00{row.fingerprint}\x00".encode())
            clauses: Sequence[StoredClause] = (
                _VersionClauses(engine, version, sum(d.clause_count for d in documents.values()))
                if lazy_clauses
                else _read_clauses(connection, version)
            )
            if read_live_version(connection) == version and documents:
                return LiveCorpus(
                    version=version,
                    documents=documents,
                    clauses=clauses,
                    content_key=content.hexdigest()[:24],
                )
    raise CorpusBusyError(message("errors", "busy", error="corpus kept changing while read"))


def _read_clauses(connection: Connection, version: int) -> list[StoredClause]:
    """Version ``version``'s clauses in reading order.

    Headings and seams come as their JSON text and each distinct text is decoded once: a
    document's clauses share a few headings, and decoding 100,000 rows one by one through the
    JSON type was half of a second process's pickup.
    """
    c = clause_table.c
    rows = connection.execute(
        select(c.id, c.doc_key, c.section, cast(c.headings, Text), c.text, c.ordinal)
        .add_columns(cast(c.seams, Text))
        .where(c.version == version)
        .order_by(c.doc_key, c.ordinal)
    ).fetchall()
    values = _Decoded({None: (), "null": ()})
    return [
        StoredClause(
            id=key,
            doc_key=doc_key,
            section=section,
            headings=values[headings],
            text=text,
            ordinal=ordinal,
            seams=values[seams],
        )
        for key, doc_key, section, headings, text, ordinal, seams in rows
    ]


class _Decoded(dict[str | None, tuple[Any, ...]]):
    """JSON text -> its list as a tuple, decoded the first time a text is asked for."""

    def __missing__(self, raw: str) -> tuple[Any, ...]:
        value = self[raw] = tuple(json.loads(raw))
        return value


def document_text(engine: Engine, key: str) -> str | None:
    """The text the live version of document ``key`` was read from (None: no such document)."""
    with engine.connect() as connection:
        return connection.execute(
            select(text_table.c.text).where(
                text_table.c.version == select(state_table.c.live_version).scalar_subquery(),
                text_table.c.key == key,
            )
        ).scalar_one_or_none()


def stored_document(row: Any) -> StoredDocument:
    return StoredDocument(
        key=row.key,
        doc_number=row.doc_number,
        title=row.title,
        authority=row.authority,
        recipient=row.recipient,
        date=row.date.isoformat() if row.date else None,
        city=row.city,
        district=row.district,
        source=row.source,
        clause_count=row.clause_count,
        province=row.province,
        level=row.level,
        title_source=row.title_source,
        missing=tuple(m for m in (row.missing or "").split(",") if m),
    )
