"""``policybot chat``: a terminal conversation through the dialogue core, input() scripted."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from rich.cells import cell_len
from rich.console import Console
from rich.text import Text
from sqlalchemy.engine import Engine

from bot.channels.console import converse, render_reply, wrap
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


CITATION = (
    "——东莞市工业和信息化局《市工信局关于对东莞市政协第十三届六次会议第20210113号提案答复的函》"
    "东工信函〔2021〕169号，2021年6月30日，一、（一）4.（2）"
)


@pytest.mark.parametrize("width", range(24, 61))  # a 文号 and its comma need 23
def test_wrap_never_cuts_a_doc_number_and_keeps_punctuation_off_line_starts(width: int) -> None:
    lines = [line.plain for line in wrap(Text(CITATION), width)]
    assert "".join(lines) == CITATION, "nothing lost, nothing added"
    assert len(lines) >= 2 and max(cell_len(line) for line in lines) <= width
    assert any("东工信函〔2021〕169号" in line for line in lines), lines
    assert not any(line.startswith(("，", "。", "、", "》", "）")) for line in lines), lines
    assert not any(line.endswith(("《", "（", "〔")) for line in lines), lines


@pytest.mark.parametrize("width", range(20, 41))
def test_wrap_keeps_commands_whole_and_drops_the_space_it_breaks_at(width: int) -> None:
    hints = "可输入：/more（更多）  ·  /full 1（原文 1）  ·  /lookup 东莞5G补贴  ·  /feedback 7 up"
    lines = [line.plain for line in wrap(Text(hints), width)]
    joined = " ".join(lines)
    assert len(lines) >= 2, "the hints are longer than one line at every width tested"
    for command in ("/more", "/full 1", "/lookup 东莞5G补贴", "/feedback 7"):
        assert command in joined and any(command in line for line in lines), lines
    assert not any(line.startswith(" ") for line in lines)


def test_wrap_folds_only_what_is_longer_than_a_line_and_keeps_styles() -> None:
    text = Text("编号" + "a" * 30 + "结束")
    text.stylize("bold", 0, 2)
    lines = wrap(text, 10)
    assert [cell_len(line.plain) for line in lines] == [10, 10, 10, 8]
    assert lines[0].spans and lines[0].spans[0].style == "bold"


def test_button_labels_are_shown_only_when_they_add_something() -> None:
    reply = Reply(
        text=["常用查询："],
        buttons=[Button("东莞5G补贴", "/lookup 东莞5G补贴"), Button("原文 2", "/full 2")],
    )
    console, buffer = screen()
    render_reply(console, reply)
    out = buffer.getvalue()
    assert "/lookup 东莞5G补贴" in out and "（东莞5G补贴）" not in out
    assert "/full 2（原文 2）" in out


def test_admin_switch_in_the_loop(monkeypatch: pytest.MonkeyPatch, dialogue: Dialogue) -> None:
    scripted_input(monkeypatch, ["/stats"])
    console, buffer = screen()
    converse(dialogue, console, is_admin=True)
    out = buffer.getvalue()
    assert "使用统计（最近 7 天）" in out and "只有管理员" not in out
    assert "管理员命令：" in out and "输入 /quit 或按 Ctrl-D 退出。" in out


def test_page_two_is_numbered_on(monkeypatch: pytest.MonkeyPatch, dialogue: Dialogue) -> None:
    scripted_input(monkeypatch, ["东莞5G项目能拿多少补贴？", "/more"])
    console, buffer = screen()
    converse(dialogue, console)
    lines = [line.strip() for line in buffer.getvalue().splitlines()]
    assert any(line.startswith("4. ") for line in lines), "/more continues at 4"
    assert any("/full 4" in line for line in lines)
