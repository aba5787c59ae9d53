"""``policybot chat`` in a real pseudo-terminal (pexpect): what a person at a 60-column
terminal sees — how to leave, wrapping that keeps 文号 and commands whole, numbered answers
that /full N opens, and the --admin switch."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from rich.cells import cell_len

pytestmark = pytest.mark.e2e

COLUMNS = 60
PROMPT = "您："
ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07]*\x07|[@-Z\\-_])")
DOC_NUMBER = re.compile(r"[\u4e00-\u9fff]{2,8}〔\d{4}〕\d+号")


def screen_lines(raw: str) -> list[str]:
    """What the terminal shows: escapes and carriage returns gone, line by line."""
    text = ANSI.sub("", raw).replace("\r\n", "\n")
    return [line.split("\r")[-1].rstrip() for line in text.split("\n")]


@pytest.fixture
def spawn(tmp_path: Path, seeds_dir: Path) -> Iterator:
    children: list[pexpect.spawn] = []

    def start(*flags: str) -> pexpect.spawn:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'chat.db'}",
            "CORPUS_DIR": str(seeds_dir),
            "TERM": "xterm-256color",
            "COLUMNS": str(COLUMNS),
            "LINES": "40",
        }
        child = pexpect.spawn(
            sys.executable,
            ["-m", "bot.cli", "chat", *flags],
            env=env,
            cwd=str(tmp_path),
            dimensions=(40, COLUMNS),
            encoding="utf-8",
            timeout=90,
        )
        children.append(child)
        child.expect_exact(PROMPT)
        return child

    yield start
    for child in children:
        child.close(force=True)


def ask(child: pexpect.spawn, text: str) -> list[str]:
    child.sendline(text)
    child.expect_exact(PROMPT)
    return screen_lines(child.before)


def test_opening_screen_says_how_to_leave_and_ctrl_d_leaves(spawn) -> None:
    child = spawn()
    opening = screen_lines(child.before)
    assert "输入 /quit 或按 Ctrl-D 退出。" in opening
    child.sendeof()
    child.expect_exact("再见！")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_lines_wrap_between_words_never_inside_a_doc_number_or_command(spawn) -> None:
    child = spawn()
    lines = ask(child, "东莞5G项目能拿多少补贴？")
    assert any("1. " in line for line in lines) and any("500 万" in line for line in lines)
    assert lines and max(cell_len(line) for line in lines) <= COLUMNS, "none wider than the screen"
    cited = [line for line in lines if "〔" in line or "〕" in line]
    assert cited, "the citations show their 文号"
    whole = [line for line in cited if DOC_NUMBER.search(line)]
    assert whole == cited, f"a 文号 was cut: {cited}"
    assert not any(line.lstrip().startswith(("，", "。", "、", "）", "》")) for line in lines)
    hints = [line for line in lines if "/full" in line or "/feedback" in line]
    assert hints, "the buttons are shown as commands to type"
    for line in hints:
        assert not re.search(r"/(full|feedback)$", line), f"a command was cut: {line}"
        assert "/full d" not in line and not re.search(r"/full [0-9a-f]{8,}", line)
    assert "/full 2" in " ".join(hints), "answers are opened by their number"
    full = ask(child, "/full 2")
    assert "条款原文：" in full and any(DOC_NUMBER.search(line) for line in full)
    child.sendline("/quit")
    child.expect(pexpect.EOF)


def test_admin_switch_opens_stats_and_the_default_does_not(spawn) -> None:
    plain = spawn()
    assert any("只有管理员可以使用" in line for line in ask(plain, "/stats"))
    admin = spawn("--admin")
    assert "您以管理员身份使用（--admin）。" in screen_lines(admin.before)
    ask(admin, "东莞5G项目能拿多少补贴？")
    stats = ask(admin, "/stats")
    assert "使用统计（最近 7 天）：" in stats
    assert any("未找到答案的比例：0%（0/1）" in line for line in stats)


def test_lookup_hints_are_not_doubled(spawn) -> None:
    child = spawn()
    lines = ask(child, "/lookup")
    joined = " ".join(lines)
    assert "/lookup 东莞5G补贴" in joined
    assert "（东莞5G补贴）" not in joined, "the label repeats the command: shown once"
