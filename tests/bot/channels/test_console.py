"""``policybot chat``: a terminal conversation through the dialogue core, input() scripted."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from rich.console import Console
from sqlalchemy.engine import Engine

from bot.channels.console import converse, render_reply
from bot.dialogue import Dialogue
from bot.settings import Settings
from bot.types import Answer, Button, Reply
from tests.fakes.collecting import seeded_service


def scripted_input(monkeypatch: pytest.MonkeyPatch, lines: list[str]) -> list[str]:
    """Feed ``lines`` to input(); then Ctrl-D (EOFError). Returns the prompts shown."""
    prompts: list[str] = []
    feed: Iterator[str] = iter(lines)

    def fake_input(prompt: str = "") -> str:
        prompts.append(prompt)
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None

    monkeypatch.setattr("builtins.input", fake_input)
    return prompts


@pytest.fixture
def dialogue(db_engine: Engine) -> Dialogue:
    return Dialogue(seeded_service(), db_engine, Settings(_env_file=None))


def screen() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=100, color_system=None, highlight=False), buffer


def test_a_short_conversation(monkeypatch: pytest.MonkeyPatch, dialogue: Dialogue) -> None:
    prompts = scripted_input(
        monkeypatch, ["东莞5G项目能拿多少补贴？", "", "那中山呢？", "/quit", "never"]
    )
    console, buffer = screen()
    converse(dialogue, console)
    out = buffer.getvalue()
    assert "惠企政策助手" in out, "the welcome is the help"
    assert "找到以下与「东莞" in out and "500 万" in out
    assert "——东莞市工业和信息化局" in out
    assert "「中山" in out
    assert "/more" in out and "/full " in out
    assert prompts == ["您："] * 4, "the blank line is skipped, /quit leaves, nothing after it"


def test_ctrl_d_leaves(monkeypatch: pytest.MonkeyPatch, dialogue: Dialogue) -> None:
    prompts = scripted_input(monkeypatch, [])
    console, buffer = screen()
    converse(dialogue, console)
    assert prompts == ["您："] and "惠企政策助手" in buffer.getvalue()


def test_the_terminal_user_is_not_an_admin(
    monkeypatch: pytest.MonkeyPatch, dialogue: Dialogue
) -> None:
    scripted_input(monkeypatch, ["/stats"])
    console, buffer = screen()
    converse(dialogue, console)
    assert "只有管理员可以使用" in buffer.getvalue()


def test_render_sets_excerpts_apart_and_dims_citations() -> None:
    answer = Answer(
        doc_number="东工信函〔2021〕169号",
        title="标题",
        authority="东莞市工业和信息化局",
        date="2021-06-30",
        city="东莞",
        section="一、（一）4.（2）",
        excerpt="每个项目最高 500 万。",
        passage="每个项目最高 500 万。",
        passage_id="abc",
        score=1.0,
        citation="东莞市工业和信息化局《标题》东工信函〔2021〕169号，2021-06-30，一、（一）4.（2）",
        emphasis=((7, 12),),
    )
    reply = Reply(
        text=["找到以下与「东莞·5G」相关的政策条款："],
        answers=[answer],
        footer=["还有 2 条"],
        buttons=[Button("更多", "/more")],
    )
    console = Console(file=io.StringIO(), width=100, force_terminal=True, color_system="256")
    render_reply(console, reply)
    coloured = console.file.getvalue()  # type: ignore[attr-defined]
    assert "\x1b[2m" in coloured, "the citation is dimmed"
    assert "\x1b[1;33m500 万" in coloured, "the amount is emphasised"
    plain, buffer = screen()
    render_reply(plain, reply)
    lines = [line.rstrip() for line in buffer.getvalue().splitlines()]
    assert "  1. 每个项目最高 500 万。" in lines
    assert any(line.startswith("     ——东莞市工业和信息化局") for line in lines)
    assert "可输入：/more（更多）" in lines
