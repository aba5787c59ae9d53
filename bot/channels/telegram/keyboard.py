"""Buttons as Telegram inline keyboards, and commands in and out of 64-byte callback data.

A button's ``kind`` decides its row and whether pressing it is a vote (answered with a toast,
marked with ``FEEDBACK_PREFIX`` in its data); its command is never read for meaning here.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import TelegramError

from bot.types import Button
from zhtext.width import display_width

CALLBACK_DATA_BYTES = 64  # Telegram's limit on InlineKeyboardButton.callback_data
KEY_PREFIX = "#"  # commands start with "/", so a key can never be mistaken for one
FEEDBACK_PREFIX = "!"  # a feedback button: answered with a toast, not a message


class CallbackCodec:
    """Commands in and out of callback data, which Telegram caps at 64 bytes.

    A short command travels as it is (and so survives restarts); a longer one (a Chinese lookup
    name is 3 bytes a character) is kept under a short hash key in a bounded store. A key that
    is unknown (too old, or from before a restart) decodes to ``None``.
    """

    def __init__(self, max_keys: int = 50_000) -> None:
        self._max_keys = max_keys
        self._commands: OrderedDict[str, str] = OrderedDict()

    def encode(self, command: str) -> str:
        if len(command.encode("utf-8")) <= CALLBACK_DATA_BYTES and not command.startswith(
            KEY_PREFIX
        ):
            return command
        key = KEY_PREFIX + hashlib.blake2b(command.encode("utf-8"), digest_size=12).hexdigest()
        self._commands[key] = command
        self._commands.move_to_end(key)
        while len(self._commands) > self._max_keys:
            self._commands.popitem(last=False)
        return key

    def decode(self, data: str | None) -> str | None:
        if not data:
            return None
        if data.startswith(("/", FEEDBACK_PREFIX)):
            return data
        return self._commands.get(data)


def layout_rows(
    buttons: Sequence[Button], *, max_per_row: int, max_row_width: int
) -> list[list[Button]]:
    """Rows of buttons: one kind of action per row, packed by width."""
    rows: list[list[Button]] = []
    width = 0
    kind = None
    for button in buttons:
        button_width = display_width(button.label) + 2
        if (
            not rows
            or button.kind != kind
            or len(rows[-1]) >= max_per_row
            or width + button_width > max_row_width
        ):
            rows.append([])
            width = 0
        rows[-1].append(button)
        width += button_width
        kind = button.kind
    return rows


class Keyboards:
    """A reply's buttons as an inline keyboard, and a pressed button's data back to a command."""

    def __init__(self, codec: CallbackCodec, *, max_per_row: int, max_row_width: int) -> None:
        self.codec = codec
        self._max_per_row = max_per_row
        self._max_row_width = max_row_width

    def markup(self, buttons: Sequence[Button]) -> dict[str, Any] | None:
        """The keyboard as Bot API JSON (it is stored in the outbox), or None without buttons."""
        if not buttons:
            return None
        rows = layout_rows(
            buttons, max_per_row=self._max_per_row, max_row_width=self._max_row_width
        )
        keyboard = [
            [InlineKeyboardButton(b.label, callback_data=self._data(b)) for b in row]
            for row in rows
        ]
        return InlineKeyboardMarkup(keyboard).to_dict()

    def _data(self, button: Button) -> str:
        prefix = FEEDBACK_PREFIX if button.kind == "feedback" else ""
        return self.codec.encode(prefix + button.command)


def vote(command: str) -> str | None:
    """The feedback command a vote button carries, or ``None`` for any other button."""
    return command[len(FEEDBACK_PREFIX) :] if command.startswith(FEEDBACK_PREFIX) else None


async def drop_pressed_row(message: object, data: str | None) -> None:
    """After a vote, remove the 👍/👎 row from the message so that it reads as done."""
    if not isinstance(message, Message) or message.reply_markup is None:
        return
    rows = [
        list(row)
        for row in message.reply_markup.inline_keyboard
        if not any(button.callback_data == data for button in row)
    ]
    with contextlib.suppress(TelegramError):
        await message.edit_reply_markup(InlineKeyboardMarkup(rows) if rows else None)
