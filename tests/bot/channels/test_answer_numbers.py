"""Every channel numbers answers as the core does: a /more page goes on at 4, so that the
``原文 4`` button and ``/full 4`` match the number the person reads."""

from __future__ import annotations

import dataclasses

from bot.channels.telegram.render import render_reply as telegram_html
from bot.channels.wecom.render import WeComRenderer
from bot.types import Answer, Reply

ANSWER = Answer(
    doc_number="东工信函〔2021〕169号",
    title="标题",
    authority="东莞市工业和信息化局",
    date="2021-06-30",
    city="东莞",
    section="一、（一）4.（2）",
    excerpt="每个项目最高 500 万。",
    passage="每个项目最高 500 万。",
    passage_id="p4",
    score=1.0,
    citation="东莞市工业和信息化局《标题》东工信函〔2021〕169号",
)
PAGE_TWO = Reply(
    text=["「东莞·5G」的更多相关条款："],
    answers=[ANSWER, dataclasses.replace(ANSWER, passage_id="p5")],
    first_number=4,
)


def test_plain_text_numbers_from_the_first_number() -> None:
    text = PAGE_TWO.plain_text()
    assert "4. 「每个项目" in text and "5. 「每个项目" in text and "1. 「" not in text


def test_telegram_numbers_from_the_first_number_even_for_one_answer() -> None:
    html = "".join(telegram_html(PAGE_TWO))
    assert "<b>4.</b>" in html and "<b>5.</b>" in html and "<b>1.</b>" not in html
    single = "".join(telegram_html(dataclasses.replace(PAGE_TWO, answers=[ANSWER])))
    assert "<b>4.</b>" in single, "a lone answer on page two still shows its number"


def test_wecom_numbers_from_the_first_number() -> None:
    renderer = WeComRenderer()
    passive = renderer.passive(PAGE_TWO, can_send_rest=False).text
    assert "4. 「" in passive and "5. 「" in passive and "1. 「" not in passive
    active = "\n".join(message.content for message in renderer.active(PAGE_TWO))
    assert "**4.**" in active and "**5.**" in active
