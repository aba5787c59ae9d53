"""The database engine: SQLite under ``data/`` by default, PostgreSQL for deployments."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import SQLModel, create_engine


def make_engine(database_url: str) -> Engine:
    """Create an engine for any SQLAlchemy URL, creating the SQLite folder when needed."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def create_tables(engine: Engine) -> None:
    """Create every PolicyBot table that is missing (all models register on SQLModel)."""
    import bot.channels.wecom_store
    import bot.models  # noqa: F401  (registers the dialogue tables)
    import retrieval.store  # (registers the corpus tables)

    retrieval.store.upgrade_corpus_tables(engine)
    SQLModel.metadata.create_all(engine)
