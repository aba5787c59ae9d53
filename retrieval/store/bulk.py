"""Bulk loading a version's rows: COPY on PostgreSQL, multi-row INSERTs on SQLite, and
INSERT ... SELECT for rows carried over from the previous version."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import JSON, Integer, insert, literal, select
from sqlalchemy.engine import Connection

from retrieval.store.tables import clause_table, document_table, text_table

_INSERT_BATCH = 2000


def insert_rows(connection: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
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


def copy_kept_rows(
    connection: Connection, previous: int | None, version: int, keys: Iterable[str]
) -> None:
    """Carry the last good rows of files that failed now into the new version, ids unchanged."""
    keys = sorted(keys)
    for table, document_key in (
        (document_table, document_table.c.key),
        (text_table, text_table.c.key),
        (clause_table, clause_table.c.doc_key),
    ):
        columns = [c for c in table.c if c.name != "version"]
        connection.execute(
            insert(table).from_select(
                ["version", *(c.name for c in columns)],
                select(literal(version, Integer), *columns).where(
                    table.c.version == previous, document_key.in_(keys)
                ),
            )
        )
