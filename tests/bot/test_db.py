"""Where the SQLite file may go: only the default ``data/`` folder is created by PolicyBot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.cli import main
from bot.db import DatabaseLocationError, make_engine
from bot.settings import get_settings

pytestmark = pytest.mark.storage


def test_the_default_data_folder_is_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    engine = make_engine("sqlite:///data/policybot.db")
    with engine.connect() as connection:
        assert connection.execute(text("select 1")).scalar() == 1
    engine.dispose()
    assert (tmp_path / "data" / "policybot.db").is_file()


def test_an_existing_folder_is_used(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:
        connection.execute(text("select 1"))
    engine.dispose()
    assert (tmp_path / "x.db").is_file()


@pytest.mark.parametrize("relative", ["nonexistent/dir/x.db", "data/sub/x.db", "dta/x.db"])
def test_any_other_missing_folder_is_refused_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, relative: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatabaseLocationError) as refused:
        make_engine(f"sqlite:///{relative}")
    assert str(Path(relative).parent) in str(refused.value)
    assert "不存在" in str(refused.value)
    assert list(tmp_path.iterdir()) == [], "nothing was created"


@pytest.fixture
def missing_folder_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "nonexistent" / "dir"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{folder / 'x.db'}")
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


@pytest.mark.parametrize("argv", [["docs"], ["reload"], ["stats"], ["ask", "你好"]])
def test_commands_say_what_to_fix(
    missing_folder_env: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"数据库文件夹 {missing_folder_env} 不存在" in err and "DATABASE_URL" in err
    assert "Traceback" not in err and "Error" not in err
    assert not missing_folder_env.exists()
