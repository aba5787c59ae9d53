"""Buttons as inline keyboards and 64-byte callback data (bot/channels/telegram/keyboard.py)."""

from __future__ import annotations

import pytest

from bot.channels.telegram.keyboard import (
    CALLBACK_DATA_BYTES,
    CallbackCodec,
    Keyboards,
    layout_rows,
    vote,
)
from bot.types import Button

pytestmark = pytest.mark.unit


def test_callback_codec_keeps_short_commands_and_maps_long_ones():
    codec = CallbackCodec(max_keys=2)
    assert codec.encode("/more") == "/more" and codec.decode("/more") == "/more"
    long_commands = [f"/lookup 东莞市松山湖高新区5G融合应用专项资金补贴{n}" for n in range(3)]
    keys = [codec.encode(command) for command in long_commands]
    assert len(keys) == 3
    for key in keys:
        assert key.startswith("#") and len(key.encode()) <= CALLBACK_DATA_BYTES
    assert codec.encode(long_commands[2]) == keys[2]  # stable key for the same command
    assert codec.decode(keys[2]) == long_commands[2]
    assert codec.decode(keys[0]) is None  # forgotten beyond max_keys: a stale button
    assert codec.decode("garbage") is None and codec.decode(None) is None


def test_keyboard_rows_keep_one_kind_of_action_per_row():
    buttons = [
        Button("更多", "/more", "more"),
        Button("原文1", "/full a", "full"),
        Button("原文2", "/full b", "full"),
        Button("原文3", "/full c", "full"),
        Button("原文4", "/full d", "full"),
        Button("👍", "/feedback 1 up", "feedback"),
        Button("👎", "/feedback 1 down", "feedback"),
    ]
    rows = layout_rows(buttons, max_per_row=3, max_row_width=24)
    assert [[b.label for b in row] for row in rows] == [
        ["更多"],
        ["原文1", "原文2", "原文3"],
        ["原文4"],
        ["👍", "👎"],
    ]


def test_rows_are_packed_by_display_width():
    wide = [Button("东莞市5G补贴", f"/lookup {n}") for n in range(3)]  # 11 columns + 2 each
    rows = layout_rows(wide, max_per_row=3, max_row_width=24)
    assert [len(row) for row in rows] == [1, 1, 1]


def test_only_feedback_buttons_are_marked_as_votes():
    keyboards = Keyboards(CallbackCodec(), max_per_row=3, max_row_width=24)
    markup = keyboards.markup(
        [Button("👍", "/feedback 1 up", "feedback"), Button("东莞", "/lookup 东莞")]
    )
    assert markup is not None
    data = [button["callback_data"] for row in markup["inline_keyboard"] for button in row]
    assert [vote(keyboards.codec.decode(item) or "") for item in data] == [
        "/feedback 1 up",
        None,
    ]
    assert keyboards.markup([]) is None
