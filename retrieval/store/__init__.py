"""The stored corpus: versioned documents and clauses, swapped in atomically on reload.

Every document and clause row belongs to a corpus version. A reload writes the new version's
rows next to the live ones, points ``corpus_state.live_version`` at it and deletes the old
rows, all in one transaction: until it commits, every reader (this process or another) sees
the old corpus whole. Other processes notice a reload by polling :func:`live_version`.

The package, by job (each module imports only those above it):

- ``tables``: the SQLModel tables and their creation;
- ``live``: reading the live version (documents, clauses, a document's text);
- ``columns``: a version's clauses as packed columns (what an index keeps and maps);
- ``parts``: index parts stored with their version for other processes;
- ``report``: what a reload did, and its summary lines for people;
- ``diff``: the next version's rows, with stable clause ids, and how they differ;
- ``bulk``: writing a version's rows fast (COPY on PostgreSQL, multi-row INSERT on SQLite);
- ``swap``: the reload itself, one transaction serialised by the state row.

Usage::

    report = reload_corpus(engine=engine, corpus_dir=Path("seeds"))
    print("\\n".join(report.summary_lines()))
    corpus = load_live_corpus(engine)
"""

from __future__ import annotations

from retrieval.store.columns import ClauseColumns
from retrieval.store.diff import clause_id
from retrieval.store.live import (
    CorpusBusyError,
    LiveCorpus,
    StoredClause,
    StoredDocument,
    document_text,
    live_version,
    load_live_corpus,
)
from retrieval.store.parts import (
    copy_index_part,
    delete_index_part,
    index_part_stored,
    load_index_part,
    save_index_part,
)
from retrieval.store.report import DocumentRef, FileFailure, ReloadReport
from retrieval.store.swap import ensure_corpus, reload_corpus, swap_corpus
from retrieval.store.tables import (
    CorpusClause,
    CorpusDocument,
    CorpusIndexPart,
    CorpusState,
    CorpusText,
    CorpusVersion,
    create_corpus_tables,
    upgrade_corpus_tables,
    utc_now,
)

__all__ = [
    "ClauseColumns",
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
    "copy_index_part",
    "create_corpus_tables",
    "delete_index_part",
    "document_text",
    "ensure_corpus",
    "index_part_stored",
    "live_version",
    "load_index_part",
    "load_live_corpus",
    "reload_corpus",
    "save_index_part",
    "swap_corpus",
    "upgrade_corpus_tables",
    "utc_now",
]
