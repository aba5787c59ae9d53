"""The swap: a reload writes the next version beside the live one, points the state row at it
and deletes the old rows, all in one transaction; until it commits every reader sees the old
corpus whole.

Reloads are serialised by the single ``corpus_state`` row: a reload first updates it, which
takes a row lock on PostgreSQL and the write lock on SQLite, so a second reload waits for the
first and then works on top of it; if it waits too long it gets :class:`CorpusBusyError`.
The version number is a primary key as a second guard.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy import update as sql_update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from retrieval.corpus import CorpusRead, read_files, reject_duplicates
from retrieval.messages import message
from retrieval.store.bulk import copy_kept_rows, insert_rows
from retrieval.store.diff import Plan, read_clause_digests, read_document_rows
from retrieval.store.live import (
    CorpusBusyError,
    LiveCorpus,
    load_live_corpus,
    read_live_version,
)
from retrieval.store.report import ReloadReport
from retrieval.store.tables import (
    STATE_ID,
    clause_table,
    create_corpus_tables,
    document_table,
    index_part_table,
    state_table,
    text_table,
    utc_now,
    version_table,
)
from retrieval.types import DocumentError

_log = logging.getLogger(__name__)
_LOCK_TIMEOUT = "30s"  # PostgreSQL; SQLite waits for its busy timeout (bot.db: 30 s)


def reload_corpus(
    *, engine: Engine, corpus_dir: Path, max_file_bytes: int | None = None
) -> ReloadReport:
    """Re-read ``corpus_dir`` and swap it in as a new version when anything changed.

    Raises DocumentError naming the folder when it is missing, unreadable or has no policy
    file (the live corpus is then untouched), CorpusBusyError when another reload held on.
    Files over ``max_file_bytes`` are skipped and named in the report (CORPUS_MAX_FILE_BYTES).
    """
    create_corpus_tables(engine)
    return swap_corpus(engine=engine, read=read_files(corpus_dir, max_file_bytes=max_file_bytes))


def ensure_corpus(*, engine: Engine, corpus_dir: Path, lazy_clauses: bool = False) -> LiveCorpus:
    """The live corpus; on a database without one (a first run) load ``corpus_dir`` first
    (``lazy_clauses``: see ``load_live_corpus``).

    Raises DocumentError when there is no live corpus and no file of the folder loads.
    """
    create_corpus_tables(engine)
    corpus = load_live_corpus(engine, lazy_clauses=lazy_clauses)
    if corpus is not None:
        return corpus
    report = swap_corpus(engine=engine, read=read_files(corpus_dir), only_if_empty=True)
    for failure in report.failures:
        _log.warning("%s: %s", failure.file, failure.reason)
    corpus = load_live_corpus(engine, lazy_clauses=lazy_clauses)
    if corpus is None:
        reasons = message("errors", "reason_separator").join(
            message("errors", "file_reason", file=f.file, reason=f.reason) for f in report.failures
        )
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
        previous = read_live_version(connection)
        if only_if_empty and previous is not None:
            return ReloadReport(version=previous, previous_version=previous, swapped=False)
        old_documents = read_document_rows(connection, previous)
        loaded = {key: row["doc_number"] for key, row in old_documents.items()}
        resolved = reject_duplicates(read, loaded)
        plan = Plan.make(
            resolved, previous, old_documents, read_clause_digests(connection, previous)
        )
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
        insert_rows(connection, text_table, [{**row, "version": version} for row in plan.text_rows])
        if plan.kept_keys:
            copy_kept_rows(connection, previous, version, plan.kept_keys)
        _set_live(connection, version)
        _delete_old_versions(connection, version)
    report.elapsed = time.perf_counter() - started
    _log.info("corpus version %s live (%.3f s)", version, report.elapsed)
    return report


def _ensure_state_row(engine: Engine) -> None:
    """Create the state row once; a concurrent creator's duplicate is harmless."""
    with engine.connect() as connection:
        if connection.execute(select(state_table.c.id).where(state_table.c.id == STATE_ID)).first():
            return
    try:
        with engine.begin() as connection:
            connection.execute(insert(state_table).values(id=STATE_ID, live_version=None))
    except IntegrityError:
        pass


def _lock(connection: Connection) -> None:
    """Take the reload lock: the first write of the transaction, on the state row."""
    try:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'")
        connection.execute(
            sql_update(state_table).where(state_table.c.id == STATE_ID).values(updated_at=utc_now())
        )
    except OperationalError as error:
        raise CorpusBusyError(message("errors", "busy", error=error.orig)) from error


def _next_version(connection: Connection) -> int:
    highest = connection.execute(select(func.max(version_table.c.version))).scalar_one_or_none()
    return (highest or 0) + 1


def _insert_version(
    connection: Connection, version: int, corpus_dir: Path, report: ReloadReport
) -> None:
    try:
        connection.execute(
            insert(version_table).values(
                version=version,
                created_at=utc_now(),
                corpus_dir=corpus_dir.as_posix(),
                documents=report.documents_total,
                clauses=report.clauses_total,
                summary="\n".join(report.summary_lines()),
            )
        )
    except IntegrityError as error:  # only if something bypassed the state-row lock
        raise CorpusBusyError(message("errors", "busy", error=error.orig)) from error


def _insert_documents(connection: Connection, version: int, rows: Sequence[dict[str, Any]]) -> None:
    insert_rows(connection, document_table, [{**row, "version": version} for row in rows])


def _insert_clauses(connection: Connection, version: int, rows: Sequence[dict[str, Any]]) -> None:
    insert_rows(connection, clause_table, [{**row, "version": version} for row in rows])


def _set_live(connection: Connection, version: int) -> None:
    connection.execute(
        sql_update(state_table)
        .where(state_table.c.id == STATE_ID)
        .values(live_version=version, updated_at=utc_now())
    )


def _delete_old_versions(connection: Connection, version: int) -> None:
    """Drop every other version's rows (the version history rows stay)."""
    connection.execute(delete(clause_table).where(clause_table.c.version != version))
    connection.execute(delete(text_table).where(text_table.c.version != version))
    connection.execute(delete(document_table).where(document_table.c.version != version))
    connection.execute(delete(index_part_table).where(index_part_table.c.version != version))
