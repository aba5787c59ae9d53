"""The corpus tables: which version is live, the version history, and each version's rows.

Every document, text, clause and index-part row carries the corpus version it belongs to, so
a reload can write the next version beside the live one (see :mod:`retrieval.store.swap`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, ForeignKeyConstraint, Index, LargeBinary, Text, inspect
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel

STATE_ID = 1  # the one row of corpus_state


class CorpusState(SQLModel, table=True):
    """The one row that says which version is live; updating it serialises reloads."""

    __tablename__ = "corpus_state"

    id: int = Field(default=STATE_ID, primary_key=True, sa_column_kwargs={"autoincrement": False})
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


TABLES = [
    CorpusState.__table__,  # type: ignore[attr-defined]
    CorpusVersion.__table__,  # type: ignore[attr-defined]
    CorpusDocument.__table__,  # type: ignore[attr-defined]
    CorpusClause.__table__,  # type: ignore[attr-defined]
    CorpusText.__table__,  # type: ignore[attr-defined]
    CorpusIndexPart.__table__,  # type: ignore[attr-defined]
]
state_table = CorpusState.__table__  # type: ignore[attr-defined]
version_table = CorpusVersion.__table__  # type: ignore[attr-defined]
document_table = CorpusDocument.__table__  # type: ignore[attr-defined]
clause_table = CorpusClause.__table__  # type: ignore[attr-defined]
text_table = CorpusText.__table__  # type: ignore[attr-defined]
index_part_table = CorpusIndexPart.__table__  # type: ignore[attr-defined]


def create_corpus_tables(engine: Engine) -> None:
    """Create the corpus tables that are missing (bot.db.create_tables creates all tables)."""
    upgrade_corpus_tables(engine)
    SQLModel.metadata.create_all(engine, tables=TABLES)
    for index in clause_table.indexes:  # tables made before the index existed get it too
        index.create(engine, checkfirst=True)


def upgrade_corpus_tables(engine: Engine) -> None:
    """Drop corpus tables written by an older PolicyBot (columns missing).

    The corpus is derived data: the next start reloads it from CORPUS_DIR. Conversations,
    question logs and lookups live in other tables and are kept.
    """
    inspector = inspect(engine)
    stale = False
    for table in TABLES:
        if inspector.has_table(table.name):
            present = {column["name"] for column in inspector.get_columns(table.name)}
            stale = stale or not {column.name for column in table.columns} <= present
    if stale:
        SQLModel.metadata.drop_all(engine, tables=list(reversed(TABLES)))


def utc_now() -> dt.datetime:
    """Aware UTC now: every stored time is UTC, the corpus's and the bot's alike."""
    return dt.datetime.now(dt.UTC)
