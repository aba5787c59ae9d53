"""``policybot chat``: a conversation in the terminal through the dialogue core.

Excerpts are set apart as quotes, citations dimmed, amounts and matched terms emphasised, in
colour where the terminal has it (rich decides). Lines wrap where Chinese allows a break, never
inside a 文号, a command or a number, and never before closing punctuation. Buttons are shown as
the commands to type. Ctrl-D or /quit leaves (the opening screen says so). ``--admin`` makes the
terminal user an admin: whoever runs the command on the server is its operator.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import re
import uuid

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from bot.app import build_dialogue
from bot.dialogue import Dialogue
from bot.settings import get_settings
from bot.texts import say
from bot.types import Incoming, Reply

QUIT_COMMANDS = frozenset({"/quit", "/exit", "/q"})

# Runs a line must not be broken inside: a 文号 (东工信函〔2021〕169号), a command with its
# argument (/full 2, /lookup 东莞5G补贴), a Latin word or a number with its unit signs (25%).
_UNBREAKABLE = re.compile(
    r"[\u4e00-\u9fff]{0,6}[〔\[［【]\d{4}[〕\]］】]\d+号"
    r"|/[A-Za-z_]+(?: [^\s·、，。；]+)?"
    r"|[A-Za-z0-9][A-Za-z0-9.,%+\-_:@]*"
)
_NO_LINE_START = frozenset("，。、；：？！）」』》〕】”’…%,.;:?!)]}")  # closing punctuation
_NO_LINE_END = frozenset("（「『《〔【“‘([{")  # opening punctuation


def _units(plain: str) -> list[tuple[int, int]]:
    """The pieces a line may break between: unbreakable runs, else single characters, with
    closing punctuation glued to what precedes it and opening punctuation to what follows."""
    pieces: list[tuple[int, int]] = []
    position = 0
    for match in _UNBREAKABLE.finditer(plain):
        pieces.extend((i, i + 1) for i in range(position, match.start()))
        pieces.append(match.span())
        position = match.end()
    pieces.extend((i, i + 1) for i in range(position, len(plain)))
    units: list[tuple[int, int]] = []
    for start, end in pieces:
        if units and (plain[start] in _NO_LINE_START or plain[units[-1][1] - 1] in _NO_LINE_END):
            units[-1] = (units[-1][0], end)
        else:
            units.append((start, end))
    return units


def wrap(text: Text, width: int) -> list[Text]:
    """Lines of at most ``width`` cells, broken only where Chinese typesetting allows.

    rich's own wrapping breaks at spaces and folds long runs anywhere, which cuts 文号 and
    commands; here a run wider than a whole line is the only thing folded.
    """
    plain = text.plain
    lines: list[tuple[int, int]] = []
    start = used = 0
    for unit_start, unit_end in _units(plain):
        piece = plain[unit_start:unit_end]
        piece_width = cell_len(piece)
        if piece.isspace() and not used and lines:  # a break at spaces swallows them
            start = unit_end
            continue
        if piece_width > width:  # longer than a line: fold it by characters where it stands
            for index in range(unit_start, unit_end):
                char_width = cell_len(plain[index])
                if used and used + char_width > width:
                    lines.append((start, index))
                    start, used = index, 0
                used += char_width
            continue
        if used and used + piece_width > width:
            lines.append((start, unit_start))
            start, used = unit_start, 0
            if piece.isspace():
                start = unit_end
                continue
        used += piece_width
    lines.append((start, len(plain)))
    return [text[a:b] for a, b in lines if b > a] or [Text()]


def _print_block(console: Console, text: Text, *, indent: int = 0, first: str = "") -> None:
    """Print ``text`` wrapped to the terminal with a hanging indent (``first`` on line one)."""
    width = max(console.width - indent, 20)
    for paragraph in text.split("\n", allow_blank=True):
        for number, line in enumerate(wrap(paragraph, width)):
            lead = Text(first.rjust(indent) if number == 0 and first else " " * indent)
            if number == 0 and first:
                lead.stylize("bold cyan")
                first = ""
            console.print(lead + line, soft_wrap=True)


def _button_hints(reply: Reply) -> Text:
    """The buttons as commands to type; a label is shown only when it says something more."""
    hints = Text(say("console", "hints"), style="dim")
    for index, button in enumerate(reply.buttons):
        if index:
            hints.append(say("console", "hint_separator"), style="dim")
        hints.append(button.command, style="green")
        if button.label not in button.command:
            hints.append(f"（{button.label}）", style="dim")
    return hints


def render_reply(console: Console, reply: Reply) -> None:
    """Print one reply: text, numbered quoted excerpts with dimmed citations, footer, hints."""
    style = "red" if reply.kind == "error" else "yellow" if reply.abstained else ""
    for block in reply.text:
        _print_block(console, Text(block, style=style))
    for number, answer in enumerate(reply.answers, reply.first_number):
        quote = Text()
        for run, emphasised in answer.segments():
            quote.append(run, style="bold yellow" if emphasised else "")
        console.print()
        _print_block(console, quote, indent=5, first=f"{number}. ")
        _print_block(console, Text(f"——{answer.citation}", style="dim"), indent=5)
    if reply.answers:
        console.print()
    for line in reply.footer:
        _print_block(console, Text(line, style="italic"))
    if reply.buttons:
        _print_block(console, _button_hints(reply))
    console.print()


def converse(
    dialogue: Dialogue, console: Console, *, session: str | None = None, is_admin: bool = False
) -> None:
    """The read–answer loop; input() stays on the main thread so Ctrl-C/Ctrl-D act at once."""
    user = f"console:{getpass.getuser()}"
    session = session or uuid.uuid4().hex
    prompt = say("console", "prompt")
    with asyncio.Runner() as runner:
        welcome = Incoming("console", user, session, "/start", is_admin=is_admin)
        render_reply(console, runner.run(dialogue.handle(welcome)))
        if is_admin:
            _print_block(console, Text(say("console", "admin_hint"), style="dim"))
        _print_block(console, Text(say("console", "leave_hint"), style="dim"))
        console.print()
        while True:
            try:
                text = input(prompt)
            except EOFError:
                console.print()
                return
            if text.strip().lower() in QUIT_COMMANDS:
                return
            if not text.strip():
                continue
            incoming = Incoming("console", user, session, text, is_admin=is_admin)
            render_reply(console, runner.run(dialogue.handle(incoming)))


def cmd_chat(args: argparse.Namespace) -> int:
    """Talk to PolicyBot in the terminal until Ctrl-D or /quit (``--admin``: as its operator)."""
    with contextlib.suppress(ImportError):  # line editing and history for input()
        import readline  # noqa: F401
    console = Console(highlight=False)
    with console.status(say("console", "loading")):
        dialogue = build_dialogue(get_settings())
    converse(dialogue, console, is_admin=bool(getattr(args, "admin", False)))
    console.print(say("console", "goodbye"))
    return 0
