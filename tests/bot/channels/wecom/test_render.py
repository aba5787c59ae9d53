"""A Reply as WeCom reads it (bot/channels/wecom/render.py): the 2048-byte passive text, cuts
that never split a character, and buttons as text hints chosen by kind alone."""

from __future__ import annotations

import copy

import pytest

from bot.channels.wecom.render import WeComRenderer, cut_to_bytes, load_config, utf8_len
from bot.types import Button, Reply
from tests.fakes.answers import make_answer

pytestmark = pytest.mark.unit

MORE_HINT = load_config()["texts"]["more_button"]


def test_fitting_prefers_shorter_excerpts_then_fewer_answers() -> None:
    renderer = WeComRenderer()
    excerpt = "按照项目核定投入金额的25%给予资助，每个项目最高500万元。" * 20
    reply = Reply(text=["找到："], answers=[make_answer(n, excerpt) for n in range(1, 13)])
    fitted = renderer.passive(reply, can_send_rest=False)
    assert utf8_len(fitted.text) <= 2048
    assert fitted.text.endswith('回复"更多"查看其余')
    assert fitted.overflow is None
    with_api = renderer.passive(reply, can_send_rest=True)
    kept = with_api.text.count("—— ")
    assert kept >= 1
    assert with_api.overflow is not None and kept + len(with_api.overflow.answers) == 12
    assert "更多" not in with_api.text


def test_cutting_never_splits_a_character() -> None:
    text = "东莞5G补贴" * 10
    for limit in range(0, 40):
        cut = cut_to_bytes(text, limit)
        assert utf8_len(cut) <= limit
        assert cut.encode("utf-8").decode("utf-8") == cut
        assert cut == "" or cut.endswith("……") or cut == text


BUTTONS = [
    Button("东莞5G补贴", "/lookup 东莞5G补贴"),
    Button("中山人才", "/lookup 中山人才"),
    Button("更多", "/more", "more"),
    Button("👍", "/feedback 3 up", "feedback"),
    Button("原文 1", "/full abc", "full"),
    Button("东工信函〔2021〕134号", "/doc 东工信函〔2021〕134号"),
]


def test_buttons_become_text_hints() -> None:
    text = WeComRenderer().passive(Reply(text=["常用查询："], buttons=BUTTONS), can_send_rest=False)
    assert "· /lookup 东莞5G补贴" in text.text and "· /lookup 中山人才" in text.text
    assert "· /doc 东工信函〔2021〕134号" in text.text  # a pick among documents: like lookups
    assert "/feedback" not in text.text and "/full" not in text.text and "<" not in text.text
    assert "更多" not in text.text  # hidden: the core's footer says how to ask for more
    listed = Button("东莞5G补贴", "/lookup 东莞5G补贴", listed=True)
    hints = WeComRenderer().button_hints(Reply(text=["……"], buttons=[listed, BUTTONS[1]]))
    assert hints == ["常用查询（回复对应文字即可）：\n· /lookup 中山人才"]


def test_what_the_core_lists_is_told_by_the_button_not_read_from_the_text() -> None:
    """A lookup the core's text happens to name is still offered unless the core says it
    listed it; the renderer never searches the core's text."""
    named = Reply(text=["· 东莞5G补贴：东莞5G项目有什么补贴？"], buttons=BUTTONS[:1])
    assert WeComRenderer().button_hints(named) == [
        "常用查询（回复对应文字即可）：\n· /lookup 东莞5G补贴"
    ]


@pytest.mark.parametrize("core_text", ["没有提到", "发送“更多”或 /more 查看。"])
def test_the_more_hint_follows_the_button_kind_not_the_core_text(core_text: str) -> None:
    config = copy.deepcopy(load_config())
    config["buttons"]["hidden_kinds"] = ["feedback", "full"]
    shown = WeComRenderer(config)
    with_more = Reply(text=[core_text], buttons=[Button("下一页", "/next", "more")])
    without = Reply(text=[core_text], buttons=[Button("下一页", "/next", "lookup")])
    assert shown.button_hints(with_more) == [MORE_HINT]
    assert MORE_HINT not in shown.button_hints(without)
    assert WeComRenderer().button_hints(with_more) == []  # hidden in the shipped config
