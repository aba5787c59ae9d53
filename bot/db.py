"""The database engine: SQLite under ``data/`` by default, PostgreSQL for deployments."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import SQLModel, create_engine

from bot.texts import say

# The only folder PolicyBot creates by itself: the default SQLite file's (``data/``). Any other
# missing folder is most likely a typo in DATABASE_URL, so it is refused rather than created.
DEFAULT_SQLITE_FOLDER = Path("data")


class DatabaseLocationError(RuntimeError):
    """DATABASE_URL points into a folder that does not exist (a message for the operator)."""


def _sqlite_folder_ready(database: str) -> None:
    folder = Path(database).parent
    if folder.is_dir():
        return
    if folder == DEFAULT_SQLITE_FOLDER:
        folder.mkdir(parents=True, exist_ok=True)
        return
    raise DatabaseLocationError(say("setup", "sqlite_folder_missing", folder=folder))


def make_engine(database_url: str) -> Engine:
    """Create an engine for any SQLAlchemy URL; only the default SQLite folder is created."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            _sqlite_folder_ready(url.database)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")  # wait for a writer, do not fail at once
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def create_tables(engine: Engine) -> None:
    """Create every PolicyBot table that is missing (all models register on SQLModel)."""
    import bot.delivery.store
    import bot.models  # noqa: F401  (registers the dialogue and outbox tables)
    import retrieval.store  # (registers the corpus tables)

    retrieval.store.upgrade_corpus_tables(engine)
    SQLModel.metadata.create_all(engine)
