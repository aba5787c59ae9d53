"""A Reply as Telegram HTML (bot/channels/telegram/render.py): escaping, structure, splitting."""

from __future__ import annotations

import re

import pytest

from bot.channels.telegram.render import MESSAGE_LIMIT, render_reply
from bot.types import Reply
from tests.fakes.answers import long_answer, visible_text

pytestmark = pytest.mark.unit


def test_render_escapes_and_structures_an_answer():
    answer = long_answer(7, 60)
    [html_text] = render_reply(Reply(text=["问：<b>x</b> & y"], answers=[answer], footer=["完"]))
    assert html_text.startswith("问：&lt;b&gt;x&lt;/b&gt; &amp; y\n\n<blockquote>")
    assert "&lt;每个&gt;" in html_text and "&amp; 最高" in html_text
    assert "<b>" + answer.excerpt[11:14] + "</b>" in html_text
    assert f"</blockquote>\n<i>—— {answer.citation}</i>" in html_text
    assert html_text.endswith("\n\n完")


def test_render_splits_long_replies_on_block_boundaries_with_balanced_tags():
    reply = Reply(
        text=["开头" * 10],
        answers=[long_answer(n, 3000 + 900 * n) for n in (1, 2, 3)],
        footer=["结尾"],
    )
    parts = render_reply(reply)
    assert len(parts) >= 4
    for part in parts:
        assert len(part) <= MESSAGE_LIMIT
        opened = re.findall(r"<(/?)(\w+)>", part)
        stack: list[str] = []
        for closing, tag in opened:
            if closing:
                assert stack and stack.pop() == tag
            else:
                stack.append(tag)
        assert not stack
    shown = "".join(visible_text(part) for part in parts)
    for answer in reply.answers:
        assert answer.citation in shown
        assert answer.excerpt.replace("\n", "") in shown.replace("\n", "")
