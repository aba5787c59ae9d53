"""What the reader makes of a policy file: a document with its metadata and clauses."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path


class DocumentError(Exception):
    """A file that cannot be read as a policy document; the message names file and reason."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ParsedClause:
    """One clause: compact section path (``一、（一）4.（2）``), heading titles above it, text.

    ``ordinal`` numbers clauses within their document in reading order. ``seams`` are offsets in
    ``text`` where the source had markup that reading removed (``**`` inside a sentence): a quote
    that crosses one is cut there, so every quote stays verbatim against the file itself.
    """

    section: str
    headings: tuple[str, ...]
    text: str
    ordinal: int
    seams: tuple[int, ...] = ()


@dataclass(slots=True)
class ParsedDocument:
    """A policy document as read from one file."""

    source: str
    doc_number: str | None
    title: str
    authority: str | None
    recipient: str | None
    date: dt.date | None
    city: str | None
    district: str | None
    province: str | None = None
    level: str | None = None  # national | province | city | district; None: place unknown
    title_source: str = "header"  # header | page | breadcrumb | heading | none
    missing: tuple[str, ...] = ()  # metadata not found: "title", "doc_number", "place"
    clauses: list[ParsedClause] = field(default_factory=list)
    text: str = ""  # the decoded source text, as in the file (for the verbatim property)
    encoding: str = "utf-8"
    content_hash: str = ""  # sha256 of the file's bytes
    warnings: list[str] = field(default_factory=list)  # what reading a PDF/Word/web page noted
