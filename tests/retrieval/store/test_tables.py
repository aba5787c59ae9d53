"""The corpus tables and their indexes on SQLite and PostgreSQL (the swap: ../test_store.py)."""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from retrieval.store import create_corpus_tables


def test_the_clause_index_by_version_and_document_exists_even_on_older_tables(
    db_engine: Engine,
) -> None:
    """Deleting an old version's documents checks their clauses by (version, doc_key): without
    this index PostgreSQL scans every clause once per deleted document."""
    with db_engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_corpus_clause_version_doc_key"))
    assert not _clause_indexes(db_engine)
    create_corpus_tables(db_engine)  # a database made before the index existed gets it
    assert _clause_indexes(db_engine) == {
        "ix_corpus_clause_version_doc_key": ["version", "doc_key"]
    }


def _clause_indexes(engine: Engine) -> dict[str, list[str]]:
    return {
        index["name"]: list(index["column_names"])
        for index in inspect(engine).get_indexes("corpus_clause")
        if index["name"]
    }
