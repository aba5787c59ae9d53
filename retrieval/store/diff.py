"""The diff between the live version and the files just read: the next version's rows, with
stable clause ids and digests, and what was added, changed, removed or kept."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from retrieval.corpus import CorpusRead, document_key
from retrieval.store.report import DocumentRef, FileFailure, ReloadReport
from retrieval.store.tables import clause_table, document_table
from retrieval.types import ParsedClause, ParsedDocument


def clause_id(doc_key: str, section: str, position: int) -> str:
    """A clause's stable id: its document's file name, section path and place in that section.

    Unchanged clauses keep their id across reloads; an edit to a clause's text keeps its id too
    (it is then "changed"), while inserting a clause shifts the ids after it in that section.
    """
    raw = f"{doc_key}\x1f{section}\x1f{position}".encode()
    return hashlib.sha1(raw).hexdigest()[:16]


def read_document_rows(connection: Connection, version: int | None) -> dict[str, dict[str, Any]]:
    if version is None:
        return {}
    rows = connection.execute(select(document_table).where(document_table.c.version == version))
    return {row.key: dict(row._mapping) for row in rows}


def read_clause_digests(connection: Connection, version: int | None) -> dict[str, tuple[str, str]]:
    """Clause id -> (doc key, digest) of a version, for the diff."""
    if version is None:
        return {}
    rows = connection.execute(
        select(clause_table.c.id, clause_table.c.doc_key, clause_table.c.digest).where(
            clause_table.c.version == version
        )
    )
    return {clause_id: (doc_key, digest) for clause_id, doc_key, digest in rows}


def _clause_digest(headings: Sequence[str], text: str) -> str:
    return hashlib.sha1("\x1f".join([*headings, text]).encode()).hexdigest()[:16]


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
class Plan:
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
    ) -> Plan:
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
