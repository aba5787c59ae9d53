"""``policybot user add|list|del``: console accounts with hashed passwords, and the audit log."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.cli import main
from bot.console.auth import admin_exists, audit_log, check_password
from bot.models import ConsoleUser
from bot.settings import get_settings


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, db_engine: Engine) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stdin: str = "",
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_user_add_admin_switches_the_console_on_with_a_hashed_password(
    env: None, db_engine: Engine, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    assert not admin_exists(engine=db_engine)
    code, out, _ = run(
        ["user", "add", "王科长", "--admin", "--password-stdin"],
        capsys,
        monkeypatch,
        "s3cret-pass\n",
    )
    assert code == 0 and "admin" in out
    assert admin_exists(engine=db_engine)
    with Session(db_engine) as session:
        stored = session.get(ConsoleUser, "王科长")
    assert stored is not None and "s3cret-pass" not in stored.password_hash
    assert stored.password_hash.startswith("$argon2")
    assert check_password(engine=db_engine, name="王科长", password="s3cret-pass") is not None
    assert check_password(engine=db_engine, name="王科长", password="wrong") is None
    entries = audit_log(engine=db_engine)
    assert entries[0].action == "user_add" and entries[0].user_name.startswith("shell")


def test_user_list_and_del(
    env: None, db_engine: Engine, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    run(["user", "add", "helper", "--password-stdin"], capsys, monkeypatch, "helper-pass\n")
    code, out, _ = run(["user", "list"], capsys, monkeypatch)
    assert code == 0 and out.startswith("helper\tstaff\t")
    assert run(["user", "del", "helper"], capsys, monkeypatch)[0] == 0
    code, _, err = run(["user", "del", "helper"], capsys, monkeypatch)
    assert code == 1 and "no account named helper" in err
    assert run(["user", "list"], capsys, monkeypatch)[1] == ""


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["user", "add", "a b", "--password-stdin"], "long-enough\n", "without spaces"),
        (["user", "add", "short", "--password-stdin"], "short\n", "at least 8 characters"),
    ],
)
def test_user_add_refuses_bad_input_without_a_traceback(
    env: None, capsys: pytest.CaptureFixture[str], monkeypatch, argv, stdin, message
) -> None:
    code, _, err = run(argv, capsys, monkeypatch, stdin)
    assert code == 2 and message in err and "Traceback" not in err
