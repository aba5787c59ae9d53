"""The stored corpus: versioned documents and clauses, swapped in atomically on reload.

Every document and clause row belongs to a corpus version. A reload writes the new version's
rows next to the live ones, points ``corpus_state.live_version`` at it and deletes the old
rows, all in one transaction: until it commits, every reader (this process or another) sees
the old corpus whole. Other processes notice a reload by polling :func:`live_version`.

Reloads are serialised by the single ``corpus_state`` row: a reload first updates it, which
takes a row lock on PostgreSQL and the write lock on SQLite, so a second reload waits for the
first and then works on top of it; if it waits too long it gets :class:`CorpusBusyError`.
The version number is a primary key as a second guard.

Usage::

    report = reload_corpus(engine=engine, corpus_dir=Path("seeds"))
    print("\\n".join(report.summary_lines()))
    corpus = load_live_corpus(engine)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    Text,
    delete,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy import update as sql_update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Field, SQLModel

from retrieval.corpus import CorpusRead, document_key, message, read_files, reject_duplicates
from retrieval.places import load_gazetteer
from retrieval.types import DocumentError, ParsedClause, ParsedDocument

__all__ = [
    "CorpusBusyError",
    "CorpusClause",
    "CorpusDocument",
    "CorpusIndexPart",
    "CorpusState",
    "CorpusText",
    "CorpusVersion",
    "DocumentRef",
    "FileFailure",
    "LiveCorpus",
    "ReloadReport",
    "StoredClause",
    "StoredDocument",
    "clause_id",
    "create_corpus_tables",
    "document_text",
    "ensure_corpus",
    "live_version",
    "load_index_part",
    "load_live_corpus",
    "reload_corpus",
    "save_index_part",
    "swap_corpus",
]

_log = logging.getLogger(__name__)
_STATE_ID = 1
_LOCK_TIMEOUT = "30s"  # PostgreSQL; SQLite waits for its busy timeout (bot.db: 30 s)
_INSERT_BATCH = 2000
_PART_CHUNK = 64 * 2**20  # bytes of an index part per row


# ---------------------------------------------------------------------------------- tables


class CorpusState(SQLModel, table=True):
    """The one row that says which version is live; updating it serialises reloads."""

    __tablename__ = "corpus_state"

    id: int = Field(default=_STATE_ID, primary_key=True, sa_column_kwargs={"autoincrement": False})
    live_version: int | None = None
    updated_at: dt.datetime | None = None


class CorpusVersion(SQLModel, table=True):
    """One reload that changed the corpus, kept as history with its summary."""

    __tablename__ = "corpus_version"

    version: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    created_at: dt.datetime
    corpus_dir: str = Field(sa_column=Column(Text, nullable=False))
    documents: int
    clauses: int
    summary: str = Field(sa_column=Column(Text, nullable=False))  # the report's summary lines


class CorpusDocument(SQLModel, table=True):
    """A document of one corpus version; ``key`` is its file name."""

    __tablename__ = "corpus_document"

    version: int = Field(
        primary_key=True,
        foreign_key="corpus_version.version",
        sa_column_kwargs={"autoincrement": False},
    )
    key: str = Field(primary_key=True, max_length=255)
    doc_number: str | None = Field(default=None, sa_column=Column(Text))
    title: str = Field(sa_column=Column(Text, nullable=False))
    authority: str | None = Field(default=None, sa_column=Column(Text))
    recipient: str | None = Field(default=None, sa_column=Column(Text))
    date: dt.date | None = None
    city: str | None = Field(default=None, max_length=64)
    district: str | None = Field(default=None, max_length=64)
    province: str | None = Field(default=None, max_length=64)
    level: str | None = Field(default=None, max_length=16)
    title_source: str = Field(default="header", max_length=16)
    missing: str = Field(default="", max_length=64)  # comma-separated: title,doc_number,place
    source: str = Field(sa_column=Column(Text, nullable=False))
    clause_count: int
    content_hash: str = Field(max_length=64)  # sha256 of the file's bytes
    fingerprint: str = Field(max_length=40)  # sha1 of metadata and clauses: decides "changed"


class CorpusText(SQLModel, table=True):
    """The text a document version was read from (a PDF's or web page's extracted text): quotes
    are verbatim against it, so it is kept to check and show them."""

    __tablename__ = "corpus_text"
    __table_args__ = (
        ForeignKeyConstraint(
            ["version", "key"], ["corpus_document.version", "corpus_document.key"]
        ),
    )

    version: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    key: str = Field(primary_key=True, max_length=255)
    text: str = Field(sa_column=Column(Text, nullable=False))


class CorpusClause(SQLModel, table=True):
    """A clause of one corpus version; ``id`` is stable across versions (see :func:`clause_id`)."""

    __tablename__ = "corpus_clause"
    __table_args__ = (
        ForeignKeyConstraint(
            ["version", "doc_key"], ["corpus_document.version", "corpus_document.key"]
        ),
        # the foreign key's own index: without it PostgreSQL checks every deleted document
        # of an old version by scanning all clauses (18 of 21 s of a reload at 100k clauses)
        Index("ix_corpus_clause_version_doc_key", "version", "doc_key"),
    )

    version: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    id: str = Field(primary_key=True, max_length=16)
    doc_key: str = Field(max_length=255)
    section: str = Field(sa_column=Column(Text, nullable=False))
    headings: list[str] = Field(default_factory=list, sa_type=JSON)
    seams: list[int] = Field(default_factory=list, sa_type=JSON)  # see ParsedClause.seams
    text: str = Field(sa_column=Column(Text, nullable=False))
    ordinal: int
    digest: str = Field(max_length=16)  # sha1 of headings and text: the diff reads only this


class CorpusIndexPart(SQLModel, table=True):
    """A part of a corpus version's index (token counts, masks), built by the first process
    that needed it and loaded by the others. ``fingerprint`` names the tokeniser, its data and
    the index code that made it: a process with other ones builds and stores its own."""

    __tablename__ = "corpus_index_part"

    version: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    name: str = Field(primary_key=True, max_length=64)
    fingerprint: str = Field(primary_key=True, max_length=64)
    chunk: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    chunks: int  # a part is whole when all its chunks are there
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: dt.datetime


_TABLES = [
    CorpusState.__table__,  # type: ignore[attr-defined]
    CorpusVersion.__table__,  # type: ignore[attr-defined]
    CorpusDocument.__table__,  # type: ignore[attr-defined]
    CorpusClause.__table__,  # type: ignore[attr-defined]
    CorpusText.__table__,  # type: ignore[attr-defined]
    CorpusIndexPart.__table__,  # type: ignore[attr-defined]
]
_state = CorpusState.__table__  # type: ignore[attr-defined]
_versions = CorpusVersion.__table__  # type: ignore[attr-defined]
_documents = CorpusDocument.__table__  # type: ignore[attr-defined]
_clauses = CorpusClause.__table__  # type: ignore[attr-defined]
_texts = CorpusText.__table__  # type: ignore[attr-defined]
_index_parts = CorpusIndexPart.__table__  # type: ignore[attr-defined]


def create_corpus_tables(engine: Engine) -> None:
    """Create the corpus tables that are missing (bot.db.create_tables creates all tables)."""
    upgrade_corpus_tables(engine)
    SQLModel.metadata.create_all(engine, tables=_TABLES)
    for index in _clauses.indexes:  # tables made before the index existed get it too
        index.create(engine, checkfirst=True)


def upgrade_corpus_tables(engine: Engine) -> None:
    """Drop corpus tables written by an older PolicyBot (columns missing).

    The corpus is derived data: the next start reloads it from CORPUS_DIR. Conversations,
    question logs and lookups live in other tables and are kept.
    """
    from sqlalchemy import inspect

    inspector = inspect(engine)
    stale = False
    for table in _TABLES:
        if inspector.has_table(table.name):
            present = {column["name"] for column in inspector.get_columns(table.name)}
            stale = stale or not {column.name for column in table.columns} <= present
    if stale:
        SQLModel.metadata.drop_all(engine, tables=list(reversed(_TABLES)))


# ----------------------------------------------------------------------------- public face


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
            return "国家"
        if self.level == "province":
            province = load_gazetteer().province(self.province or "")
            return province.full if province else "省级"
        if self.city and self.district:
            return f"{self.city}·{self.district}"
        return self.city or "地区未知"

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
    """One complete corpus version: documents by key, clauses in reading order."""

    version: int
    documents: dict[str, StoredDocument]
    clauses: list[StoredClause]


@dataclass(frozen=True, slots=True)
class DocumentRef:
    """A document named in a report: its source file and, when it has one, its number."""

    source: str
    doc_number: str | None

    def label(self) -> str:
        if self.doc_number:
            return message(
                "summary", "document_with_number", source=self.source, doc_number=self.doc_number
            )
        return self.source


@dataclass(frozen=True, slots=True)
class FileFailure:
    """A file that could not be loaded, and why."""

    file: str
    reason: str


@dataclass(slots=True)
class ReloadReport:
    """What a reload did. ``version`` is the live version afterwards (None: still no corpus)."""

    version: int | None
    previous_version: int | None
    swapped: bool  # a new version went live
    documents_added: list[DocumentRef] = field(default_factory=list)
    documents_changed: list[DocumentRef] = field(default_factory=list)
    documents_removed: list[DocumentRef] = field(default_factory=list)
    documents_unchanged: list[DocumentRef] = field(default_factory=list)
    clauses_added: int = 0
    clauses_changed: int = 0
    clauses_removed: int = 0
    documents_total: int = 0
    clauses_total: int = 0
    failures: list[FileFailure] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # failed now, their last good version stays
    ignored: list[str] = field(default_factory=list)  # non-policy files in the folder
    # loaded, but some metadata not found: (source, ("title", "doc_number", "place"))
    incomplete: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    elapsed: float = 0.0  # seconds

    @property
    def ok(self) -> bool:
        """True when every policy file was loaded."""
        return not self.failures

    @property
    def changed(self) -> bool:
        return bool(
            self.documents_added
            or self.documents_changed
            or self.documents_removed
            or self.clauses_added
            or self.clauses_changed
            or self.clauses_removed
        )

    def summary_lines(self) -> list[str]:
        """The report in Chinese, one line per fact (for ``policybot reload`` and ``/reload``)."""
        untouched = not self.swapped and not (
            self.documents_added or self.documents_changed or self.documents_unchanged
        )
        lines = [self._header(untouched)]
        if not untouched:
            lines.append(
                message(
                    "summary",
                    "documents",
                    added=len(self.documents_added),
                    changed=len(self.documents_changed),
                    removed=len(self.documents_removed),
                    unchanged=len(self.documents_unchanged),
                    kept=len(self.kept),
                    total=self.documents_total,
                )
            )
            lines.append(
                message(
                    "summary",
                    "clauses",
                    added=self.clauses_added,
                    changed=self.clauses_changed,
                    removed=self.clauses_removed,
                    total=self.clauses_total,
                )
            )
        separator = message("summary", "item_separator")
        for name, refs in (
            ("added", self.documents_added),
            ("changed", self.documents_changed),
            ("removed", self.documents_removed),
        ):
            if refs:
                items = separator.join(ref.label() for ref in refs)
                lines.append(message("summary", name, items=items))
        if self.failures:
            lines.append(message("summary", "failures", count=len(self.failures)))
            lines.extend(
                message("summary", "failure", file=failure.file, reason=failure.reason)
                for failure in self.failures
            )
        if self.kept:
            lines.append(message("summary", "kept", items=separator.join(self.kept)))
        if self.ignored:
            lines.append(message("summary", "ignored", items=separator.join(self.ignored)))
        if self.incomplete:
            lines.append(message("summary", "incomplete", count=len(self.incomplete)))
            names = {key: message("metadata", key) for key in ("title", "doc_number", "place")}
            lines.extend(
                message(
                    "summary",
                    "incomplete_file",
                    file=source,
                    missing="/".join(names.get(m, m) for m in missing),
                )
                for source, missing in self.incomplete
            )
        return lines

    def _header(self, untouched: bool) -> str:
        values = {
            "version": self.version,
            "previous": self.previous_version,
            "elapsed": self.elapsed,
        }
        if self.swapped:
            name = "header_first" if self.previous_version is None else "header_swapped"
        elif untouched:
            name = "header_untouched_empty" if self.version is None else "header_untouched"
        else:
            name = "header_same"
        return message("summary", name, **values)


def clause_id(doc_key: str, section: str, position: int) -> str:
    """A clause's stable id: its document's file name, section path and place in that section.

    Unchanged clauses keep their id across reloads; an edit to a clause's text keeps its id too
    (it is then "changed"), while inserting a clause shifts the ids after it in that section.
    """
    raw = f"{doc_key}\x1f{section}\x1f{position}".encode()
    return hashlib.sha1(raw).hexdigest()[:16]


def live_version(engine: Engine) -> int | None:
    """The live corpus version (None when none is loaded): one cheap query, for polling."""
    with engine.connect() as connection:
        return _live_version(connection)


def load_live_corpus(engine: Engine) -> LiveCorpus | None:
    """The live corpus, whole and of one version (None when none has been loaded yet).

    Reads are not wrapped in a snapshot (SQLite's driver starts no transaction for reads), so
    the version is checked again after reading: a reload that committed meanwhile is re-read.
    """
    for _attempt in range(20):
        with engine.connect() as connection:
            version = _live_version(connection)
            if version is None:
                return None
            documents = {
                row.key: _stored_document(row)
                for row in connection.execute(
                    select(_documents)
                    .where(_documents.c.version == version)
                    .order_by(_documents.c.key)
                )
            }
            clauses = [
                StoredClause(
                    id=row.id,
                    doc_key=row.doc_key,
                    section=row.section,
                    headings=tuple(row.headings or ()),
                    text=row.text,
                    ordinal=row.ordinal,
                    seams=tuple(row.seams or ()),
                )
                for row in connection.execute(
                    select(_clauses)
                    .where(_clauses.c.version == version)
                    .order_by(_clauses.c.doc_key, _clauses.c.ordinal)
                )
            ]
            if _live_version(connection) == version and documents:
                return LiveCorpus(version=version, documents=documents, clauses=clauses)
    raise CorpusBusyError(message("errors", "busy", error="corpus kept changing while read"))


def document_text(engine: Engine, key: str) -> str | None:
    """The text the live version of document ``key`` was read from (None: no such document)."""
    with engine.connect() as connection:
        return connection.execute(
            select(_texts.c.text).where(
                _texts.c.version == select(_state.c.live_version).scalar_subquery(),
                _texts.c.key == key,
            )
        ).scalar_one_or_none()


def load_index_part(engine: Engine, version: int, name: str, fingerprint: str) -> bytes | None:
    """A stored part of version ``version``'s index, or None when no process stored it yet."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(_index_parts.c.chunks, _index_parts.c.data)
            .where(
                _index_parts.c.version == version,
                _index_parts.c.name == name,
                _index_parts.c.fingerprint == fingerprint,
            )
            .order_by(_index_parts.c.chunk)
        ).all()
    if not rows or len(rows) != rows[0].chunks:
        return None
    return b"".join(bytes(row.data) for row in rows)


def save_index_part(engine: Engine, version: int, name: str, fingerprint: str, data: bytes) -> bool:
    """Store a part of a version's index for other processes, in chunks (SQLite and PostgreSQL
    refuse a value over 1 GB); False when another process stored it first (its copy is the
    same) or the version is no longer live."""
    pieces = [data[i : i + _PART_CHUNK] for i in range(0, len(data), _PART_CHUNK)] or [b""]
    try:
        with engine.begin() as connection:
            if _live_version(connection) != version:
                return False
            for chunk, piece in enumerate(pieces):
                connection.execute(
                    insert(_index_parts).values(
                        version=version,
                        name=name,
                        fingerprint=fingerprint,
                        chunk=chunk,
                        chunks=len(pieces),
                        data=piece,
                        created_at=_now(),
                    )
                )
    except IntegrityError:
        return False
    return True


def reload_corpus(*, engine: Engine, corpus_dir: Path) -> ReloadReport:
    """Re-read ``corpus_dir`` and swap it in as a new version when anything changed.

    Raises DocumentError naming the folder when it is missing, unreadable or has no policy
    file (the live corpus is then untouched), CorpusBusyError when another reload held on.
    """
    create_corpus_tables(engine)
    return swap_corpus(engine=engine, read=read_files(corpus_dir))


def ensure_corpus(*, engine: Engine, corpus_dir: Path) -> LiveCorpus:
    """The live corpus; on a database without one (a first run) load ``corpus_dir`` first.

    Raises DocumentError when there is no live corpus and no file of the folder loads.
    """
    create_corpus_tables(engine)
    corpus = load_live_corpus(engine)
    if corpus is not None:
        return corpus
    report = swap_corpus(engine=engine, read=read_files(corpus_dir), only_if_empty=True)
    for failure in report.failures:
        _log.warning("%s: %s", failure.file, failure.reason)
    corpus = load_live_corpus(engine)
    if corpus is None:
        reasons = "；".join(f"{f.file}：{f.reason}" for f in report.failures)
        raise DocumentError(
            corpus_dir, message("errors", "nothing_loaded", folder=corpus_dir, reasons=reasons)
        )
    return corpus


def swap_corpus(*, engine: Engine, read: CorpusRead, only_if_empty: bool = False) -> ReloadReport:
    """Swap the documents of ``read`` in as the next version, in one transaction.

    Duplicate numbers are rejected against the corpus live at that moment. Files that failed
    but were loaded before keep their rows (same clause ids). Nothing is written when nothing
    changed or no file was read. ``only_if_empty``: do nothing if a corpus is live by then
    (two first runs racing load the folder once).
    """
    started = time.perf_counter()
    _ensure_state_row(engine)
    with engine.begin() as connection:
        _lock(connection)
        previous = _live_version(connection)
        if only_if_empty and previous is not None:
            return ReloadReport(version=previous, previous_version=previous, swapped=False)
        old_documents = _document_rows(connection, previous)
        loaded = {key: row["doc_number"] for key, row in old_documents.items()}
        resolved = reject_duplicates(read, loaded)
        plan = _Plan.make(resolved, previous, old_documents, _clause_rows(connection, previous))
        report = plan.report
        if not resolved.documents:  # nothing to swap in: the live corpus stays as it is
            return ReloadReport(
                version=previous,
                previous_version=previous,
                swapped=False,
                failures=report.failures,
                kept=report.kept,
                ignored=report.ignored,
                elapsed=time.perf_counter() - started,
            )
        if not report.changed:
            report.version = previous
            report.elapsed = time.perf_counter() - started
            return report
        version = _next_version(connection)
        report.version = version
        report.swapped = True
        report.elapsed = time.perf_counter() - started
        _insert_version(connection, version, read.corpus_dir, report)
        _insert_documents(connection, version, plan.document_rows)
        _insert_clauses(connection, version, plan.clause_rows)
        _insert_batches(connection, _texts, [{**row, "version": version} for row in plan.text_rows])
        if plan.kept_keys:
            _copy_kept(connection, previous, version, plan.kept_keys)
        _set_live(connection, version)
        _delete_old_versions(connection, version)
    report.elapsed = time.perf_counter() - started
    _log.info("corpus version %s live (%.3f s)", version, report.elapsed)
    return report


# ------------------------------------------------------------------------------- internals


def _live_version(connection: Connection) -> int | None:
    return connection.execute(
        select(_state.c.live_version).where(_state.c.id == _STATE_ID)
    ).scalar_one_or_none()


def _ensure_state_row(engine: Engine) -> None:
    """Create the state row once; a concurrent creator's duplicate is harmless."""
    with engine.connect() as connection:
        if connection.execute(select(_state.c.id).where(_state.c.id == _STATE_ID)).first():
            return
    try:
        with engine.begin() as connection:
            connection.execute(insert(_state).values(id=_STATE_ID, live_version=None))
    except IntegrityError:
        pass


def _lock(connection: Connection) -> None:
    """Take the reload lock: the first write of the transaction, on the state row."""
    try:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'")
        connection.execute(
            sql_update(_state).where(_state.c.id == _STATE_ID).values(updated_at=_now())
        )
    except OperationalError as error:
        raise CorpusBusyError(message("errors", "busy", error=error.orig)) from error


def _next_version(connection: Connection) -> int:
    highest = connection.execute(select(func.max(_versions.c.version))).scalar_one_or_none()
    return (highest or 0) + 1


def _insert_version(
    connection: Connection, version: int, corpus_dir: Path, report: ReloadReport
) -> None:
    try:
        connection.execute(
            insert(_versions).values(
                version=version,
                created_at=_now(),
                corpus_dir=corpus_dir.as_posix(),
                documents=report.documents_total,
                clauses=report.clauses_total,
                summary="\n".join(report.summary_lines()),
            )
        )
    except IntegrityError as error:  # only if something bypassed the state-row lock
        raise CorpusBusyError(message("errors", "busy", error=error.orig)) from error


def _insert_documents(connection: Connection, version: int, rows: Sequence[dict[str, Any]]) -> None:
    _insert_batches(connection, _documents, [{**row, "version": version} for row in rows])


def _insert_clauses(connection: Connection, version: int, rows: Sequence[dict[str, Any]]) -> None:
    _insert_batches(connection, _clauses, [{**row, "version": version} for row in rows])


def _insert_batches(connection: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """Bulk insert: COPY on PostgreSQL (psycopg), multi-row INSERTs on SQLite.

    Plain executemany costs one statement per row; RETURNING makes SQLAlchemy batch rows
    into one statement per page ("insertmanyvalues"), which SQLite runs fast but psycopg
    parses slowly, so PostgreSQL gets COPY, its bulk-load path.
    """
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        _copy_rows(connection, table, rows)
        return
    statement = insert(table).returning(table.c.version)
    for start in range(0, len(rows), _INSERT_BATCH):
        connection.execute(statement, rows[start : start + _INSERT_BATCH]).close()


def _copy_rows(connection: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """COPY the rows in on the transaction's own psycopg connection."""
    columns = [column.name for column in table.c]
    json_columns = {column.name for column in table.c if isinstance(column.type, JSON)}
    quoted = ", ".join(f'"{name}"' for name in columns)
    driver_connection = connection.connection.driver_connection
    with (
        driver_connection.cursor() as cursor,  # type: ignore[union-attr]
        cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy,
    ):
        for row in rows:
            copy.write_row(
                [
                    json.dumps(row[name], ensure_ascii=False) if name in json_columns else row[name]
                    for name in columns
                ]
            )


def _copy_kept(
    connection: Connection, previous: int | None, version: int, keys: Iterable[str]
) -> None:
    """Carry the last good rows of files that failed now into the new version, ids unchanged."""
    keys = sorted(keys)
    document_columns = [c for c in _documents.c if c.name != "version"]
    connection.execute(
        insert(_documents).from_select(
            ["version", *(c.name for c in document_columns)],
            select(literal(version, Integer), *document_columns).where(
                _documents.c.version == previous, _documents.c.key.in_(keys)
            ),
        )
    )
    text_columns = [c for c in _texts.c if c.name != "version"]
    connection.execute(
        insert(_texts).from_select(
            ["version", *(c.name for c in text_columns)],
            select(literal(version, Integer), *text_columns).where(
                _texts.c.version == previous, _texts.c.key.in_(keys)
            ),
        )
    )
    clause_columns = [c for c in _clauses.c if c.name != "version"]
    connection.execute(
        insert(_clauses).from_select(
            ["version", *(c.name for c in clause_columns)],
            select(literal(version, Integer), *clause_columns).where(
                _clauses.c.version == previous, _clauses.c.doc_key.in_(keys)
            ),
        )
    )


def _set_live(connection: Connection, version: int) -> None:
    connection.execute(
        sql_update(_state)
        .where(_state.c.id == _STATE_ID)
        .values(live_version=version, updated_at=_now())
    )


def _delete_old_versions(connection: Connection, version: int) -> None:
    """Drop every other version's rows (the version history rows stay)."""
    connection.execute(delete(_clauses).where(_clauses.c.version != version))
    connection.execute(delete(_texts).where(_texts.c.version != version))
    connection.execute(delete(_documents).where(_documents.c.version != version))
    connection.execute(delete(_index_parts).where(_index_parts.c.version != version))


def _document_rows(connection: Connection, version: int | None) -> dict[str, dict[str, Any]]:
    if version is None:
        return {}
    rows = connection.execute(select(_documents).where(_documents.c.version == version))
    return {row.key: dict(row._mapping) for row in rows}


def _clause_rows(connection: Connection, version: int | None) -> dict[str, tuple[str, str]]:
    """Clause id -> (doc key, digest) of a version, for the diff."""
    if version is None:
        return {}
    rows = connection.execute(
        select(_clauses.c.id, _clauses.c.doc_key, _clauses.c.digest).where(
            _clauses.c.version == version
        )
    )
    return {clause_id: (doc_key, digest) for clause_id, doc_key, digest in rows}


def _clause_digest(headings: Sequence[str], text: str) -> str:
    return hashlib.sha1("\x1f".join([*headings, text]).encode()).hexdigest()[:16]


def _stored_document(row: Any) -> StoredDocument:
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


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _clause_dicts(key: str, clauses: Sequence[ParsedClause]) -> list[dict[str, Any]]:
    positions: dict[str, int] = {}
    rows = []
    for clause in sorted(clauses, key=lambda c: c.ordinal):
        position = positions.get(clause.section, 0)
        positions[clause.section] = position + 1
        rows.append(
            {
                "id": clause_id(key, clause.section, position),
                "doc_key": key,
                "section": clause.section,
                "headings": list(clause.headings),
                "seams": list(clause.seams),
                "text": clause.text,
                "ordinal": clause.ordinal,
                "digest": _clause_digest(clause.headings, clause.text),
            }
        )
    return rows


def _document_dict(
    key: str, doc: ParsedDocument, clause_rows: list[dict[str, Any]]
) -> dict[str, Any]:
    metadata = {
        "key": key,
        "doc_number": doc.doc_number,
        "title": doc.title,
        "authority": doc.authority,
        "recipient": doc.recipient,
        "date": doc.date,
        "city": doc.city,
        "district": doc.district,
        "province": doc.province,
        "level": doc.level,
        "title_source": doc.title_source,
        "missing": ",".join(doc.missing),
        "source": doc.source,
        "clause_count": len(clause_rows),
    }
    canonical = json.dumps(
        [
            {**metadata, "date": doc.date.isoformat() if doc.date else None},
            [
                (row["id"], row["section"], row["headings"], row["text"], row["seams"])
                for row in clause_rows
            ],
        ],
        ensure_ascii=False,
        sort_keys=True,
    )
    return {
        **metadata,
        "content_hash": doc.content_hash,
        "fingerprint": hashlib.sha1(canonical.encode()).hexdigest(),
    }


@dataclass(slots=True)
class _Plan:
    """The rows of the next version and how it differs from the live one."""

    document_rows: list[dict[str, Any]]
    clause_rows: list[dict[str, Any]]
    text_rows: list[dict[str, Any]]
    kept_keys: set[str]
    report: ReloadReport

    @classmethod
    def make(
        cls,
        read: CorpusRead,
        previous: int | None,
        old_documents: dict[str, dict[str, Any]],
        old_clauses: dict[str, tuple[str, str]],
    ) -> _Plan:
        report = ReloadReport(version=None, previous_version=previous, swapped=False)
        document_rows: list[dict[str, Any]] = []
        clause_rows: list[dict[str, Any]] = []
        text_rows: list[dict[str, Any]] = []
        for doc in read.documents:
            key = document_key(doc.source)
            text_rows.append({"key": key, "text": doc.text})
            rows = _clause_dicts(key, doc.clauses)
            document = _document_dict(key, doc, rows)
            document_rows.append(document)
            clause_rows.extend(rows)
            ref = DocumentRef(doc.source, doc.doc_number)
            if doc.missing:
                report.incomplete.append((doc.source, tuple(doc.missing)))
            old = old_documents.get(key)
            if old is None:
                report.documents_added.append(ref)
            elif old["fingerprint"] == document["fingerprint"]:
                report.documents_unchanged.append(ref)
            else:
                report.documents_changed.append(ref)
        new_keys = {row["key"] for row in document_rows}
        kept_keys = read.failed_keys & old_documents.keys()
        for key in sorted(old_documents.keys() - new_keys - kept_keys):
            old = old_documents[key]
            report.documents_removed.append(DocumentRef(old["source"], old["doc_number"]))

        compared = {
            cid: digest for cid, (key, digest) in old_clauses.items() if key not in kept_keys
        }
        new_clauses = {row["id"]: row["digest"] for row in clause_rows}
        report.clauses_added = len(new_clauses.keys() - compared.keys())
        report.clauses_removed = len(compared.keys() - new_clauses.keys())
        report.clauses_changed = sum(
            1 for cid, digest in new_clauses.items() if cid in compared and compared[cid] != digest
        )
        report.documents_total = len(document_rows) + len(kept_keys)
        report.clauses_total = len(clause_rows) + sum(
            old_documents[key]["clause_count"] for key in kept_keys
        )
        report.failures = [FileFailure(str(f.path), f.reason) for f in read.failures]
        report.kept = [f.path for f in read.failures if document_key(f.path) in kept_keys]
        report.ignored = list(read.ignored)
        return cls(document_rows, clause_rows, text_rows, kept_keys, report)
