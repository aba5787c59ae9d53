"""``policybot chat``: a conversation in the terminal through the dialogue core.

Excerpts are set apart as quotes, citations dimmed, amounts and matched terms emphasised, in
colour where the terminal has it (rich decides). Buttons are shown as the commands to type.
Ctrl-D or /quit leaves. The terminal user is never an admin.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import uuid

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from bot.app import build_dialogue
from bot.dialogue import Dialogue
from bot.settings import get_settings
from bot.types import Incoming, Reply

QUIT_COMMANDS = frozenset({"/quit", "/exit", "/q"})
PROMPT = "您："


def _fold(text: Text, width: int) -> list[Text]:
    """Cut ``text`` into lines of at most ``width`` cells, anywhere: Chinese has no spaces
    to wrap at, and wrapping at the stray spaces around numbers leaves ragged lines."""
    offsets: list[int] = []
    used = 0
    for index, char in enumerate(text.plain):
        width_of_char = cell_len(char)
        if used + width_of_char > width and used:
            offsets.append(index)
            used = 0
        used += width_of_char
    return list(text.divide(offsets))


def _print_block(console: Console, text: Text, *, indent: int, first: str = "") -> None:
    """Print ``text`` folded to the terminal with a hanging indent (``first`` on line one)."""
    width = max(console.width - indent, 20)
    for number, line in enumerate(_fold(text, width)):
        lead = Text(first.rjust(indent) if number == 0 and first else " " * indent)
        if number == 0 and first:
            lead.stylize("bold cyan")
        console.print(lead + line, soft_wrap=True)


def render_reply(console: Console, reply: Reply) -> None:
    """Print one reply: text, quoted excerpts with dimmed citations, footer, button hints."""
    style = "red" if reply.kind == "error" else "yellow" if reply.abstained else ""
    for block in reply.text:
        console.print(Text(block, style=style))
    for number, answer in enumerate(reply.answers, 1):
        quote = Text()
        for run, emphasised in answer.segments():
            quote.append(run, style="bold yellow" if emphasised else "")
        console.print()
        _print_block(console, quote, indent=5, first=f"{number}. ")
        _print_block(console, Text(f"——{answer.citation}", style="dim"), indent=5)
    if reply.answers:
        console.print()
    for line in reply.footer:
        console.print(Text(line, style="italic"))
    if reply.buttons:
        hints = Text("可输入：", style="dim")
        for index, button in enumerate(reply.buttons):
            if index:
                hints.append("  ·  ", style="dim")
            hints.append(button.command, style="green")
            if button.label != button.command:
                hints.append(f"（{button.label}）", style="dim")
        console.print(hints)
    console.print()


def converse(dialogue: Dialogue, console: Console, *, session: str | None = None) -> None:
    """The read–answer loop; input() stays on the main thread so Ctrl-C/Ctrl-D act at once."""
    user = f"console:{getpass.getuser()}"
    session = session or uuid.uuid4().hex
    with asyncio.Runner() as runner:
        render_reply(
            console, runner.run(dialogue.handle(Incoming("console", user, session, "/start")))
        )
        while True:
            try:
                text = input(PROMPT)
            except EOFError:
                console.print()
                return
            if text.strip().lower() in QUIT_COMMANDS:
                return
            if not text.strip():
                continue
            incoming = Incoming("console", user, session, text, is_admin=False)
            render_reply(console, runner.run(dialogue.handle(incoming)))


def cmd_chat(_args: argparse.Namespace) -> int:
    """Talk to PolicyBot in the terminal until Ctrl-D or /quit."""
    with contextlib.suppress(ImportError):  # line editing and history for input()
        import readline  # noqa: F401
    console = Console(highlight=False)
    with console.status("正在载入政策文件…"):
        dialogue = build_dialogue(get_settings())
    converse(dialogue, console)
    console.print("再见！")
    return 0
