"""``policybot ask`` (plain, --json, --jsonl) and ``search --jsonl`` through ``bot.cli.main``."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

import bot.cli.answer
from bot.answering import AnswerService
from bot.cli import main
from bot.dialogue import Dialogue
from bot.settings import Settings, get_settings
from tests.fakes.collecting import seeded_service

pytestmark = pytest.mark.storage

QUESTION = "东莞5G项目能拿多少补贴？"
ANSWER_KEYS = {"question", "session", "intents", "city", "abstained", "answers", "reply"}
HIT_KEYS = {
    "doc_number", "title", "authority", "date", "city", "section",
    "excerpt", "passage", "passage_id", "score",
}  # fmt: skip


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, seeds_dir: Path) -> Iterator[None]:
    """Settings from the environment, as the installed command reads them."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("CORPUS_DIR", str(seeds_dir))
    monkeypatch.setenv("ADMIN_IDS", "cli,cli:s1")  # the CLI must never be an admin anyway
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def shared(monkeypatch: pytest.MonkeyPatch, env: None, db_engine: Engine) -> None:
    """The CLI wired to the shared seeded service and a per-test database (both backends)."""
    service = seeded_service()

    def build_dialogue(settings: Settings) -> Dialogue:
        return Dialogue(service, db_engine, settings)

    def build_answer_service(_settings: Settings) -> AnswerService:
        return service

    monkeypatch.setattr(bot.cli.answer, "build_dialogue", build_dialogue)
    monkeypatch.setattr(bot.cli.answer, "build_answer_service", build_answer_service)


def run(
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stdin: str = "",
) -> tuple[int, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(argv)
    return code, capsys.readouterr().out


def jsonl(*rows: object) -> str:
    return "".join(
        (row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n"
        for row in rows
    )


def test_ask_plain_text_end_to_end(
    env: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real composition root: settings → database → corpus → dialogue."""
    code, out = run(["ask", QUESTION], capsys, monkeypatch)
    assert code == 0
    assert out.startswith("找到以下与「东莞") and "500 万" in out and "——" in out


def test_ask_json_is_the_contract_object(
    shared: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run(["ask", "--json", QUESTION], capsys, monkeypatch)
    assert code == 0
    answer = json.loads(out)
    assert set(answer) == ANSWER_KEYS
    assert answer["question"] == QUESTION and answer["city"] == "东莞"
    assert not answer["abstained"] and answer["answers"]
    assert set(answer["answers"][0]) >= HIT_KEYS  # the contract's keys; extensions follow
    assert {"level", "province", "district", "source"} <= set(answer["answers"][0])
    assert answer["answers"][0]["level"] == "city"
    assert [i["label"] for i in answer["intents"]][:2] in (["5g", "funding"], ["funding", "5g"])
    scores = [i["score"] for i in answer["intents"]]
    assert scores == sorted(scores, reverse=True)
    assert "5G" in out, "ensure_ascii=False keeps Chinese readable"
    assert answer["reply"].startswith("找到以下与")


def test_ask_jsonl_conversations(
    shared: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = jsonl(
        {"question": QUESTION, "session": "s1"},
        {"question": "中山有哪些人才政策？", "session": "s2"},
        {"question": "那中山呢？", "session": "s1"},
        {"question": "还有吗", "session": "s2"},
        {"question": "还有吗"},
        "not json at all",
        {"session": "s1"},
        [1, 2],
        {"question": "/stats", "session": "s1"},
        {"question": "/more", "session": "s1"},
    )
    code, out = run(["ask", "--jsonl"], capsys, monkeypatch, lines)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 10
    first, second, follow, more, lonely, bad_json, no_question, not_object, stats, page = rows
    assert first["session"] == "s1" and first["city"] == "东莞" and first["answers"]
    assert second["city"] == "中山"
    assert follow["city"] == "中山" and follow["answers"]
    assert all(a["city"] == "中山" for a in follow["answers"])
    assert more["answers"] and all(a["city"] == "中山" for a in more["answers"])
    assert not {a["passage_id"] for a in more["answers"]} & {
        a["passage_id"] for a in second["answers"]
    }
    assert lonely["session"] and lonely["answers"] == [] and "请先完整地问" in lonely["reply"]
    assert bad_json["line"] == 6 and "not JSON" in bad_json["error"]
    assert no_question["line"] == 7 and "question" in no_question["error"]
    assert not_object["line"] == 8 and "error" in not_object
    assert "管理员" in stats["reply"], "the CLI is never an admin"
    assert page["city"] == "中山", "/more continues s1's question, /stats between or not"
    assert page["answers"] or "没有更多相关条款" in page["reply"]
    assert not {a["passage_id"] for a in page["answers"]} & {
        a["passage_id"] for a in follow["answers"]
    }


def test_ask_jsonl_runs_do_not_share_conversations(
    shared: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(["ask", "--jsonl"], capsys, monkeypatch, jsonl({"question": QUESTION, "session": "a"}))
    _, out = run(
        ["ask", "--jsonl"], capsys, monkeypatch, jsonl({"question": "还有吗", "session": "a"})
    )
    assert "请先完整地问" in json.loads(out)["reply"]


def test_ask_commands_answer_like_chat(
    shared: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run(["ask", "/doc 东工信函〔2021〕134号"], capsys, monkeypatch)
    assert code == 0 and "谭福龙委员" in out and "2021-06-09" in out


def test_ask_without_question_is_a_usage_error(
    shared: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["ask"]) == 2
    assert "give a question" in capsys.readouterr().err


def test_search_jsonl(
    shared: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = jsonl(
        {"query": "5G基站 规划建设", "k": 2},
        {"query": "贷款贴息"},
        {"query": "补贴", "k": 0},
        "{broken",
        {"k": 3},
    )
    code, out = run(["search", "--jsonl", "-k", "4"], capsys, monkeypatch, lines)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 5
    assert rows[0]["query"] == "5G基站 规划建设" and len(rows[0]["hits"]) == 2
    assert set(rows[0]["hits"][0]) >= HIT_KEYS
    assert len(rows[1]["hits"]) == 4
    assert "k" in rows[2]["error"] and rows[3]["line"] == 4 and "query" in rows[4]["error"]


def test_a_cold_ask_imports_nothing_the_answer_does_not_need(
    env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a fresh interpreter, as a user runs it: ``numpy.ma`` (which ``np.unique`` and
    ``np.union1d`` import on their first call, 40-90 ms) is not among what an answer loads."""
    monkeypatch.setenv("INDEX_DIR", str(tmp_path / "index"))
    script = (
        "import sys\nfrom bot.cli import main\n"
        "code = main(['ask', sys.argv[1]])\n"
        "print('LOADED', 'numpy.ma' in sys.modules, code)\n"
    )
    for _ in range(2):  # the first builds the index, the second maps it
        done = subprocess.run(
            [sys.executable, "-c", script, QUESTION], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert "500 万" in done.stdout
        assert done.stdout.strip().splitlines()[-1] == "LOADED False 0"


def test_the_command_ends_at_once_and_loses_nothing(
    env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``policybot ask`` ends its process without tearing it down: the answer is printed
    whole, the question logged, a bad question's exit code kept, and a first ask's index parts
    (stored by a thread after the answer) are stored before the process ends."""
    import sqlite3

    monkeypatch.setenv("INDEX_DIR", str(tmp_path / "index"))
    command = [sys.executable, "-m", "bot.cli", "ask"]
    first = subprocess.run([*command, QUESTION], capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "500 万" in first.stdout and first.stdout.endswith("\n")
    with sqlite3.connect(tmp_path / "cli.db") as db:
        parts = db.execute("select count(*) from corpus_index_part").fetchone()[0]
    assert parts >= 8  # every part the first ask built was stored for the next process
    monkeypatch.setenv("INDEX_DIR", str(tmp_path / "elsewhere"))  # a host without the files
    second = subprocess.run(
        [*command, "--json", QUESTION], capture_output=True, text=True, timeout=120
    )
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["answers"]  # the whole JSON object, not cut short
    empty = subprocess.run([*command, "   "], capture_output=True, text=True, timeout=120)
    assert empty.returncode != 0 or empty.stdout.strip()  # said, never silent
    with sqlite3.connect(tmp_path / "cli.db") as db:
        logged = [row[0] for row in db.execute("select text from bot_question order by id")]
    assert logged[:2] == [QUESTION, QUESTION]
