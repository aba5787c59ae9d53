"""How a ``Reply`` reads in WeCom: a passive text reply within 2048 bytes, active sends.

WeCom cuts passive text replies at 2048 bytes of UTF-8, so the passive text is fitted first
(excerpts shortened, marked ``……``; then fewer answers), never cut mid-character. Whatever does
not fit is returned as an overflow ``Reply`` for the channel to send actively. Active sends use
markdown when there are answers (quoted excerpts, **amounts**, a citation line), plain text
otherwise. Buttons become text hints, since a WeCom app message has no buttons.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from bot.types import Answer, Reply

DATA_FILE = Path(__file__).resolve().parents[2] / "data" / "wecom.toml"


@lru_cache(maxsize=1)
def load_config(path: Path = DATA_FILE) -> dict[str, Any]:
    """The channel's editable texts and knobs (bot/data/wecom.toml)."""
    with path.open("rb") as handle:
        return tomllib.load(handle)


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def cut_to_bytes(text: str, limit: int, mark: str = "……") -> str:
    """``text`` shortened to at most ``limit`` UTF-8 bytes, ending in ``mark`` when cut."""
    if utf8_len(text) <= limit:
        return text
    room = max(limit - utf8_len(mark), 0)
    # decoding with "ignore" drops a character whose bytes were split: never a broken character
    head = text.encode("utf-8")[:room].decode("utf-8", errors="ignore").rstrip()
    return head + mark if utf8_len(head + mark) <= limit else head


@dataclass(frozen=True, slots=True)
class Fitted:
    """A passive text that fits, and what did not fit (to send actively), if anything."""

    text: str
    overflow: Reply | None = None


@dataclass(frozen=True, slots=True)
class ActiveMessage:
    msgtype: Literal["text", "markdown"]
    content: str

    def as_dict(self) -> dict[str, str]:
        """As the outbox stores it."""
        return {"msgtype": self.msgtype, "content": self.content}


class WeComRenderer:
    """Renders replies for WeCom with the texts and limits of bot/data/wecom.toml."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        config = config or load_config()
        self.texts: dict[str, str] = config["texts"]
        self.buttons: dict[str, Any] = config["buttons"]
        limits = config["limits"]
        self.passive_bytes = int(limits["passive_bytes"])
        self.text_bytes = int(limits["text_bytes"])
        self.markdown_bytes = int(limits["markdown_bytes"])
        self.min_excerpt_chars = int(limits["min_excerpt_chars"])

    # ---- building blocks -------------------------------------------------------------------

    def button_hints(self, reply: Reply) -> list[str]:
        """Buttons as lines of text, by kind: lookups listed by name, the rest as 回复"…" hints.

        Kinds in ``hidden_kinds`` are not offered (votes and /full are too long to type; the
        core's answer footer already says how to ask for more). Lookups the core's text
        already lists (``Button.listed``) are left out.
        """
        hidden = set(self.buttons["hidden_kinds"])
        lookups: list[str] = []
        others: list[str] = []
        for button in reply.buttons:
            command = button.command.strip()
            if not command or button.kind in hidden:
                continue
            if button.kind == "more":
                others.append(self.texts["more_button"])
            elif button.kind == "lookup":
                if button.listed:  # the core's text lists it already (/lookup, /doc choices)
                    continue
                item = self.texts["lookup_item"].format(command=command, label=button.label)
                lookups.append(item)
            else:
                others.append(self.texts["button"].format(command=command, label=button.label))
        lines = list(dict.fromkeys(others))
        if lookups:
            lines.append("\n".join([self.texts["lookups_heading"], *dict.fromkeys(lookups)]))
        return lines

    @staticmethod
    def answer_block(number: int, answer: Answer, excerpt: str | None = None) -> str:
        """One answer as plain text, as every channel shows it: excerpt, then its citation."""
        shown = answer.excerpt if excerpt is None else excerpt
        return f"{number}. 「{shown}」\n   —— {answer.citation}"

    @staticmethod
    def join(blocks: list[str]) -> str:
        return "\n\n".join(block for block in blocks if block)

    def _compose(self, reply: Reply, excerpts: list[str], extra: list[str]) -> str:
        blocks = list(reply.text)
        blocks += [
            self.answer_block(number, answer, excerpt)
            for number, (answer, excerpt) in enumerate(
                zip(reply.answers, excerpts, strict=True), reply.first_number
            )
        ]
        blocks += reply.footer
        blocks += extra
        blocks += self.button_hints(reply)
        return self.join(blocks)

    # ---- passive ---------------------------------------------------------------------------

    def passive(self, reply: Reply, *, can_send_rest: bool) -> Fitted:
        """The passive text reply within the byte limit, and the overflow to send actively.

        Order of retreat: the whole reply; excerpts shortened evenly (not below
        ``min_excerpt_chars``); fewer answers (the rest sent actively when possible, otherwise
        a line saying 回复"更多"); for replies without answers, whole lines then a cut.
        """
        limit = self.passive_bytes
        full = self._compose(reply, [a.excerpt for a in reply.answers], [])
        if utf8_len(full) <= limit:
            return Fitted(full)
        if not reply.answers:
            return self._fit_lines(reply, limit, can_send_rest=can_send_rest)
        for keep in range(len(reply.answers), 0, -1):
            kept = replace(reply, answers=reply.answers[:keep])
            dropped = reply.answers[keep:]
            extra = [] if not dropped or can_send_rest else [self.texts["more"]]
            text = self._fit_excerpts(kept, extra, limit)
            if text is not None:
                overflow = Reply(answers=list(dropped)) if dropped and can_send_rest else None
                return Fitted(text, overflow)
        head_only = replace(reply, answers=[])
        fitted = self._fit_lines(head_only, limit, can_send_rest=can_send_rest)
        rest = Reply(answers=list(reply.answers)) if can_send_rest else None
        return Fitted(fitted.text, rest)

    def _fit_excerpts(self, reply: Reply, extra: list[str], limit: int) -> str | None:
        """Cut every excerpt to one common byte cap, the largest that fits; None if too small."""
        mark = self.texts["cut_mark"]
        longest = max(utf8_len(answer.excerpt) for answer in reply.answers)
        low, high = 0, longest
        best: list[str] | None = None
        while low <= high:
            cap = (low + high) // 2
            excerpts = [cut_to_bytes(answer.excerpt, cap, mark) for answer in reply.answers]
            if utf8_len(self._compose(reply, excerpts, extra)) <= limit:
                best, low = excerpts, cap + 1
            else:
                high = cap - 1
        if best is None:
            return None
        for original, excerpt in zip(reply.answers, best, strict=True):
            if excerpt != original.excerpt and len(excerpt) < self.min_excerpt_chars:
                return None
        return self._compose(reply, best, extra)

    def _fit_lines(self, reply: Reply, limit: int, *, can_send_rest: bool) -> Fitted:
        """A reply without answers (e.g. a /doc outline): whole blocks, then the rest."""
        blocks = [*reply.text, *reply.footer, *self.button_hints(reply)]
        lines = [line for block in blocks for line in block.split("\n")]
        mark = self.texts["cut_mark"]
        kept: list[str] = []
        for index, line in enumerate(lines):
            candidate = "\n".join([*kept, line])
            if utf8_len(candidate) + utf8_len("\n" + mark) > limit:
                rest = lines[index:]
                if not kept:  # a single line longer than the limit
                    return Fitted(cut_to_bytes(line, limit, mark), None)
                text = "\n".join([*kept, mark])
                overflow = Reply(text=["\n".join(rest)]) if can_send_rest else None
                return Fitted(text, overflow)
            kept.append(line)
        return Fitted("\n".join(kept))

    # ---- active ----------------------------------------------------------------------------

    def active(self, reply: Reply) -> list[ActiveMessage]:
        """Messages for message/send: markdown when there are answers, text otherwise."""
        if reply.answers:
            blocks = list(reply.text)
            blocks += [
                self.markdown_answer(n, a) for n, a in enumerate(reply.answers, reply.first_number)
            ]
            blocks += reply.footer
            blocks += self.button_hints(reply)
            return [
                ActiveMessage("markdown", content)
                for content in self._pack(blocks, self.markdown_bytes)
            ]
        blocks = [*reply.text, *reply.footer, *self.button_hints(reply)]
        return [ActiveMessage("text", content) for content in self._pack(blocks, self.text_bytes)]

    def markdown_answer(self, number: int, answer: Answer) -> str:
        """An answer in WeCom markdown: the excerpt quoted, emphasised amounts bold, its source."""
        excerpt = "".join(
            f"**{run.strip()}**" if emphasised and run.strip() else run
            for run, emphasised in answer.segments()
        )
        quoted = "\n".join(f"> {line}" for line in excerpt.splitlines() or [""])
        return f"**{number}.**\n{quoted}\n{self.texts['citation_prefix']}{answer.citation}"

    def _pack(self, blocks: list[str], limit: int) -> list[str]:
        """Blocks packed greedily into messages of at most ``limit`` bytes each."""
        mark = self.texts["cut_mark"]
        messages: list[str] = []
        current = ""
        for block in (b for b in blocks if b):
            block = cut_to_bytes(block, limit, mark)
            candidate = f"{current}\n\n{block}" if current else block
            if utf8_len(candidate) <= limit:
                current = candidate
                continue
            messages.append(current)
            current = block
        if current:
            messages.append(current)
        return messages
