"""The operator's shell: ``ask --admin``, ``policybot stats`` and ``policybot export``."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

import bot.cli.answer
from bot.cli import main
from bot.dialogue import Dialogue
from bot.models import BotQuestion
from bot.settings import get_settings
from tests.fakes.collecting import seeded_service

TODAY = dt.datetime.now(dt.UTC).replace(hour=9, minute=0, second=0, microsecond=0)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, db_engine: Engine) -> Iterator[None]:
    """The installed command's settings, pointing at this test's database (both backends)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ADMIN_IDS", "")
    get_settings.cache_clear()
    service = seeded_service()
    monkeypatch.setattr(
        bot.cli.answer,
        "build_dialogue",
        lambda settings: Dialogue(service, db_engine, settings),
    )
    yield
    get_settings.cache_clear()


def log(engine: Engine, text: str, *, days_ago: int, abstained: bool, feedback: str | None) -> None:
    created = TODAY - dt.timedelta(days=days_ago)
    with Session(engine) as session:
        session.add(
            BotQuestion(
                channel="telegram",
                user_id="42",
                session_id="42",
                text=text,
                question=text,
                intents=[{"label": "funding", "score": 0.5}],
                abstained=abstained,
                reason="no_match" if abstained else None,
                kind="abstain" if abstained else "answer",
                created_at=created,
                feedback=feedback,
                feedback_at=created if feedback else None,
            )
        )
        session.commit()


@pytest.fixture
def history(env: None, db_engine: Engine) -> None:
    log(db_engine, "东莞5G项目能拿多少补贴？", days_ago=0, abstained=False, feedback="up")
    log(db_engine, '北京的"补贴",怎么申请？', days_ago=0, abstained=True, feedback=None)
    log(db_engine, '北京的"补贴",怎么申请？', days_ago=1, abstained=True, feedback="down")
    log(db_engine, "去年的老问题", days_ago=30, abstained=True, feedback=None)


def run(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, stdin=""
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_ask_admin_runs_admin_commands(
    env: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(["ask", "/stats"], capsys, monkeypatch)
    assert code == 0 and "只有管理员可以使用" in out, "without --admin nothing changes"
    code, out, _ = run(["ask", "--admin", "/stats"], capsys, monkeypatch)
    assert code == 0 and out.startswith("使用统计（最近 7 天）")
    lines = "".join(
        json.dumps(row, ensure_ascii=False) + "\n"
        for row in (
            {"question": "/lookup add 常问 = 东莞5G项目有什么补贴", "session": "a"},
            {"question": "/lookup 常问", "session": "a"},
            {"question": "/stats", "session": "a"},
        )
    )
    code, out, _ = run(["ask", "--jsonl", "--admin"], capsys, monkeypatch, lines)
    added, ran, stats = (json.loads(line) for line in out.splitlines())
    assert "已保存常用查询“常问”" in added["reply"]
    assert ran["city"] == "东莞" and ran["answers"]
    assert stats["reply"].startswith("使用统计") and "1" in stats["reply"]


def test_stats_json_and_text(
    history: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(["stats", "--json"], capsys, monkeypatch)
    assert code == 0
    stats = json.loads(out)
    assert stats["questions"] == 3 and stats["abstained"] == 2, "the 30-day-old one is out"
    assert stats["abstention_rate"] == round(2 / 3, 4)
    assert stats["unanswered"] == [{"text": '北京的"补贴",怎么申请？', "count": 2}]
    assert stats["feedback"] == {"up": 1, "down": 1}
    assert [row["questions"] for row in stats["per_day"]] == [1, 2]
    code, out, _ = run(["stats"], capsys, monkeypatch)
    assert code == 0 and "未找到答案的比例：67%（2/3）" in out and "👍 1  👎 1" in out


def test_stats_since_a_date(
    history: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    since = (TODAY - dt.timedelta(days=40)).date().isoformat()
    _, out, _ = run(["stats", "--json", "--since", since], capsys, monkeypatch)
    stats = json.loads(out)
    assert stats["questions"] == 4 and stats["since"].startswith(since)
    assert {"text": "去年的老问题", "count": 1} in stats["unanswered"]
    _, out, _ = run(["stats", "--json", "--since", TODAY.date().isoformat()], capsys, monkeypatch)
    assert json.loads(out)["questions"] == 2


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "01.11.2026"])
def test_stats_bad_date_is_a_clear_chinese_message(
    env: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    with pytest.raises(SystemExit) as leaving:
        main(["stats", "--since", value])
    assert leaving.value.code == 2
    err = capsys.readouterr().err
    assert "日期格式不对" in err and "YYYY-MM-DD" in err and "Traceback" not in err


def test_stats_since_a_future_date(
    env: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    future = (TODAY + dt.timedelta(days=3)).date().isoformat()
    code, out, err = run(["stats", "--since", future], capsys, monkeypatch)
    assert code == 2 and not out and "还没到" in err


def rows_of(out: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(out)))


def test_export_unanswered_questions_as_csv(
    history: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(["export", "questions", "--csv"], capsys, monkeypatch)
    assert code == 0
    rows = rows_of(out)
    assert [row["text"] for row in rows] == ['北京的"补贴",怎么申请？'] * 2 + ["去年的老问题"]
    assert all(row["abstained"] == "True" and row["reason"] == "no_match" for row in rows)
    assert json.loads(rows[0]["intents"]) == [{"label": "funding", "score": 0.5}]
    every = rows_of(run(["export", "questions", "--csv", "--all"], capsys, monkeypatch)[1])
    assert len(every) == 4 and every[0]["text"] == "东莞5G项目能拿多少补贴？"
    since = TODAY.date().isoformat()
    recent = rows_of(
        run(["export", "questions", "--csv", "--since", since], capsys, monkeypatch)[1]
    )
    assert [row["text"] for row in recent] == ['北京的"补贴",怎么申请？']


def test_export_feedback_as_csv(
    history: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(["export", "feedback", "--csv"], capsys, monkeypatch)
    rows = rows_of(out)
    assert code == 0 and [(row["text"], row["feedback"]) for row in rows] == [
        ("东莞5G项目能拿多少补贴？", "up"),
        ('北京的"补贴",怎么申请？', "down"),
    ]
    assert rows[0]["feedback_at"].startswith(TODAY.date().isoformat())


def test_export_of_an_empty_log_is_just_the_header(
    env: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(["export", "feedback", "--csv"], capsys, monkeypatch)
    assert code == 0 and out.splitlines() == [out.splitlines()[0]]
    assert out.startswith("id,created_at,channel,user_id,text,")


def test_export_needs_a_format(env: None, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["export", "questions"])
    assert "--csv" in capsys.readouterr().err
