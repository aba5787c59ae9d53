"""Shared fixtures: databases (SQLite and PostgreSQL), a guard that keeps tests offline, and
the markers that sort tests by what they need (registered in pyproject.toml):

- ``e2e``: servers, channels or CLI subprocesses end to end; marked by hand, per module
  (``pytestmark = pytest.mark.e2e``), because what a test starts cannot be seen from outside;
- ``storage``: needs SQLite or PostgreSQL; given to every test that uses a database fixture
  (``database_url``, ``db_engine``, ``postgres_url``), and by hand to modules that make their
  own database file;
- ``unit``: every other test (no database, no server), so ``pytest -m unit`` runs the fast ones;
- ``postgres``: added to any test that runs on PostgreSQL (``-m "not postgres"`` without it).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from bot.db import make_engine

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED = ROOT.parent / "shared"
POSTGRES_ADMIN_URL = os.environ.get(
    "POLICYBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

LAYERS = ("unit", "storage", "e2e")
DATABASE_FIXTURES = frozenset({"database_url", "db_engine", "postgres_url"})

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> object:
    """Refuse any connection that is not to this machine: tests never touch the network."""
    if isinstance(address, tuple):
        host = str(address[0])
        if not (host.startswith("127.") or host in {"::1", "localhost"}):
            raise RuntimeError(f"test tried to reach the network: {address!r}")
    return _real_connect(self, address)


socket.socket.connect = _loopback_only  # type: ignore[method-assign]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its layer (unless its module says) and ``postgres`` when it runs on
    PostgreSQL (see the module docstring)."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if not any(item.get_closest_marker(layer) for layer in LAYERS):
            item.add_marker(
                pytest.mark.storage if fixtures & DATABASE_FIXTURES else pytest.mark.unit
            )
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("database_url") == "postgresql"
        if on_postgres or "postgres_url" in fixtures:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session", autouse=True)
def _scratch_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Start-up caches (CACHE_DIR) go to a scratch folder, not the checkout's data/."""
    os.environ["CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end; fails if PG is down."""
    from sqlalchemy import create_engine

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"policybot_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # fail loudly: PostgreSQL is part of what is tested
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {error}")
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each storage test runs on both backends, each time on an empty schema. Index parts a
    test's services still store in the background are stored before its database goes (a
    late one would land in the next test's database, under its version numbers)."""
    from retrieval.index_parts import wait_for_saves

    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'policybot.db'}"
        wait_for_saves(timeout=60)
        return
    url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    _drop_all(engine)
    engine.dispose()
    yield url
    wait_for_saves(timeout=60)
    engine = make_engine(url)
    _drop_all(engine)
    engine.dispose()


def _drop_all(engine: Engine) -> None:
    from sqlmodel import SQLModel

    from bot.db import create_tables

    create_tables(engine)  # imports every model so that drop_all knows them all
    SQLModel.metadata.drop_all(engine)


@pytest.fixture
def db_engine(database_url: str) -> Iterator[Engine]:
    """An engine with every table created, on SQLite and on PostgreSQL."""
    from bot.db import create_tables

    engine = make_engine(database_url)
    create_tables(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def seeds_dir() -> Path:
    return SEEDS
