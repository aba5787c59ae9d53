"""A ``Reply`` as Telegram HTML: escaped text, quoted excerpts with bold amounts, citations.

Kept apart from the bot plumbing (and free of python-telegram-bot) so that what a person reads
can be tested on its own. Every piece of user and document text goes through ``html.escape``;
the only markup is what this module writes. Long replies are cut into messages of at most
``limit`` characters on block boundaries; a single block too long for one message is cut inside
its text and each piece re-wrapped, so a tag is never left open across two messages.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.types import Answer, Reply

MESSAGE_LIMIT = 4096
# where a too-long text is best cut, best first: paragraph, line, sentence, clause, word
_BREAKS: tuple[str, ...] = ("\n\n", "\n", "。", "；", ";", "，", ",", " ")


def escape(text: str) -> str:
    """Text as Telegram HTML shows it literally (only <, > and & are special there)."""
    return html.escape(text, quote=False)


def telegram_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji counts 2)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True, slots=True)
class Block:
    """One self-contained piece of a message: runs of (text, bold) inside an optional tag.

    ``separator`` goes before the block when it follows another one in the same message.
    """

    runs: tuple[tuple[str, bool], ...]
    wrapper: str | None = None  # "blockquote" | "i" | None
    separator: str = "\n\n"

    def render(self) -> str:
        inner = "".join(
            f"<b>{escape(text)}</b>" if bold else escape(text) for text, bold in self.runs
        )
        return f"<{self.wrapper}>{inner}</{self.wrapper}>" if self.wrapper else inner

    @property
    def visible(self) -> bool:
        return any(text.strip() for text, _ in self.runs)


def answer_blocks(number: int | None, answer: Answer) -> list[Block]:
    """An answer: its number, the excerpt quoted (emphasis in bold), the citation under it."""
    blocks: list[Block] = []
    if number is not None:
        blocks.append(Block(((f"{number}.", True),)))
    quote = tuple(answer.segments()) or ((answer.excerpt, False),)
    blocks.append(Block(quote, "blockquote", "\n" if number is not None else "\n\n"))
    if answer.citation:
        blocks.append(Block(((f"—— {answer.citation}", False),), "i", "\n"))
    return blocks


def reply_blocks(reply: Reply) -> list[Block]:
    """The reply's text paragraphs, then each answer, then the footer, as blocks."""
    blocks = [Block(((paragraph, False),)) for paragraph in reply.text]
    numbered = len(reply.answers) > 1 or reply.first_number > 1
    for number, answer in enumerate(reply.answers, reply.first_number):
        blocks.extend(answer_blocks(number if numbered else None, answer))
    blocks.extend(Block(((line, False),)) for line in reply.footer)
    return [block for block in blocks if block.visible]


def render_reply(reply: Reply, limit: int = MESSAGE_LIMIT) -> list[str]:
    """The reply as Telegram HTML messages, each at most ``limit`` characters, in order."""
    return pack(reply_blocks(reply), limit)


def pack(blocks: Iterable[Block], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Fill messages block by block; a block that fits nowhere whole is cut into pieces first."""
    parts: list[str] = []
    current = ""
    for block in blocks:
        for piece in _fit(block, limit):
            rendered = piece.render()
            joined = f"{current}{piece.separator}{rendered}" if current else rendered
            if telegram_length(joined) <= limit:
                current = joined
            else:
                parts.append(current)
                current = rendered
    if current:
        parts.append(current)
    return parts


def _fit(block: Block, limit: int) -> list[Block]:
    """The block itself when it fits one message, else pieces that each fit, same wrapper."""
    if telegram_length(block.render()) <= limit:
        return [block]
    wrapper_cost = telegram_length(f"<{block.wrapper}></{block.wrapper}>") if block.wrapper else 0
    budget = limit - wrapper_cost
    pieces: list[list[tuple[str, bool]]] = [[]]
    used = 0
    for text, bold in block.runs:
        remaining = text
        while remaining:
            tag_cost = len("<b></b>") if bold else 0
            room = budget - used - tag_cost
            take = _prefix_that_fits(remaining, room) if room > 0 else 0
            if take == 0:
                if not pieces[-1]:  # cannot happen with a sane limit; never loop forever
                    raise ValueError(f"message limit {limit} is too small for any text")
                pieces.append([])
                used = 0
                continue
            if take < len(remaining):
                take = _nicer_cut(remaining, take)
            chunk, remaining = remaining[:take], remaining[take:]
            pieces[-1].append((chunk, bold))
            used += telegram_length(escape(chunk)) + tag_cost
            if remaining:
                pieces.append([])
                used = 0
    separators = [block.separator] + ["\n"] * (len(pieces) - 1)
    return [
        Block(tuple(runs), block.wrapper, separator)
        for runs, separator in zip(pieces, separators, strict=True)
        if runs
    ]


def _prefix_that_fits(text: str, room: int) -> int:
    """How many characters of ``text`` fit in ``room`` once escaped."""
    used = 0
    for index, char in enumerate(text):
        used += telegram_length(escape(char))
        if used > room:
            return index
    return len(text)


def _nicer_cut(text: str, hard_limit: int, breaks: Sequence[str] = _BREAKS) -> int:
    """Move a cut back to the best natural break in the second half of the allowed prefix."""
    floor = hard_limit // 2
    for mark in breaks:
        position = text.rfind(mark, floor, hard_limit)
        if position != -1:
            return position + len(mark)
    return hard_limit
