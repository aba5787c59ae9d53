"""Whole conversations through the dialogue core, over the real answer service and the seeds.

Each test gets an empty database (SQLite and PostgreSQL) for the ``bot_`` tables; the answer
service over the seeds is shared (read-only).
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.answering import AnswerService
from bot.dialogue import MAX_QUESTION_CHARS, Dialogue, clean_text
from bot.models import BotContext, BotQuestion
from bot.settings import Settings
from bot.types import Reply
from tests.fakes.collecting import CollectingChannel, FakeClock, seeded_service

QUESTION = "东莞5G项目能拿多少补贴？"


@pytest.fixture
def service() -> AnswerService:
    return seeded_service()


@pytest.fixture
def settings() -> Settings:
    return Settings(context_ttl_minutes=30, answers_per_reply=3, _env_file=None)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def dialogue(
    service: AnswerService, db_engine: Engine, settings: Settings, clock: FakeClock
) -> Dialogue:
    return Dialogue(service, db_engine, settings, clock=clock)


@pytest.fixture
def chat(dialogue: Dialogue) -> CollectingChannel:
    return CollectingChannel(dialogue, user="u1", session="s1")


@pytest.fixture
def admin(dialogue: Dialogue) -> CollectingChannel:
    return CollectingChannel(dialogue, user="boss", session="admin-chat", is_admin=True)


def ids(reply: Reply) -> list[str]:
    return [answer.passage_id for answer in reply.answers]


def commands(reply: Reply) -> list[str]:
    return [button.command for button in reply.buttons]


# ---------------------------------------------------------------------- questions and follow-ups


async def test_question_answers_with_lead_citations_and_buttons(chat: CollectingChannel) -> None:
    reply = await chat.say(QUESTION)
    assert reply.kind == "answer" and not reply.abstained
    assert reply.city == "东莞"
    assert {intent.label for intent in reply.intents[:2]} == {"5g", "funding"}
    assert reply.text[0].startswith("找到以下与「东莞·")
    assert reply.answers and all(answer.city == "东莞" for answer in reply.answers)
    assert any("500 万" in answer.excerpt for answer in reply.answers)
    assert reply.question_id is not None
    buttons = commands(reply)
    for number in range(1, len(reply.answers) + 1):
        assert f"/full {number}" in buttons, "answers are numbered, not named by long ids"
        assert any(b.label == f"原文 {number}" for b in reply.buttons)
    assert f"/feedback {reply.question_id} up" in buttons
    assert f"/feedback {reply.question_id} down" in buttons
    assert all(len(command.encode()) <= 64 for command in buttons)
    assert "「" in reply.plain_text() and "——" in reply.plain_text()


async def test_place_follow_ups_keep_the_topic(chat: CollectingChannel) -> None:
    first = await chat.say(QUESTION)
    zhongshan = await chat.say("那中山呢？")
    assert zhongshan.city == "中山"
    assert zhongshan.answers and all(answer.city == "中山" for answer in zhongshan.answers)
    assert "中山" in zhongshan.plain_text()
    back = await chat.say("东莞呢")
    assert back.city == "东莞" and back.answers
    assert set(ids(back)) & set(ids(first)), "the same question for 东莞 again"
    baoan = await chat.say("宝安的呢")
    assert baoan.city == "深圳"
    assert baoan.answers and all(answer.city == "深圳" for answer in baoan.answers)


async def test_topic_follow_up_keeps_the_place(chat: CollectingChannel) -> None:
    await chat.say("中山的数字贷贴息怎么申请？")
    talent = await chat.say("那人才呢？")
    assert talent.city == "中山"
    assert talent.intents[0].label == "talent"
    assert talent.answers and all(answer.city == "中山" for answer in talent.answers)


async def test_unknown_place_is_named_and_never_answered_from_elsewhere(
    chat: CollectingChannel,
) -> None:
    reply = await chat.say("北京5G项目有什么补贴？")
    assert reply.kind == "abstain" and reply.abstained and not reply.answers
    assert "北京" in reply.plain_text() and "东莞" in reply.plain_text()
    assert any(command.startswith("/lookup ") for command in commands(reply))
    await chat.say(QUESTION)
    follow = await chat.say("那北京呢？")
    assert follow.abstained and not follow.answers and "北京" in follow.plain_text()
    still = await chat.say("那中山呢？")
    assert still.city == "中山", "an unknown place does not spoil the context"


async def test_out_of_scope_question_abstains_with_suggestions(chat: CollectingChannel) -> None:
    reply = await chat.say("个人住房公积金贷款利率是多少？")
    assert reply.kind == "abstain" and reply.abstained and not reply.answers
    assert "没有找到" in reply.plain_text()
    assert "资金补贴" in reply.plain_text()
    assert any(command.startswith("/lookup ") for command in commands(reply))
    for button in reply.buttons:  # the text names them: a platform without buttons need not
        assert button.listed and button.label in reply.plain_text()


async def test_greeting_gets_help_not_a_search(chat: CollectingChannel) -> None:
    reply = await chat.say("你好")
    assert reply.kind == "help" and not reply.answers
    assert "东莞5G项目能拿多少补贴？" in reply.plain_text()


async def test_paging_to_the_end_and_past_it(chat: CollectingChannel) -> None:
    first = await chat.say(QUESTION)
    shown = ids(first)
    reply = first
    for say in ["还有吗", "更多", "/more", "其他的呢", "还有吗？"] * 10:
        if "/more" not in commands(reply) and reply is not first:
            break
        reply = await chat.say(say)
        if not reply.answers:
            break
        assert not set(ids(reply)) & set(shown), "never the same answer twice"
        shown.extend(ids(reply))
        assert reply.question_id == first.question_id
    past = await chat.say("/more")
    assert not past.answers and past.kind == "command"
    assert "没有更多" in past.plain_text()
    assert len(shown) == len(set(shown)) > len(first.answers)


async def test_paging_button_offered_only_while_more_remain(chat: CollectingChannel) -> None:
    reply = await chat.say(QUESTION)
    pages = 0
    while "/more" in commands(reply):
        reply = await chat.press(next(b for b in reply.buttons if b.command == "/more"))
        pages += 1
        assert reply.answers
        assert pages < 30
    assert pages >= 1
    assert not (await chat.say("/more")).answers


async def test_follow_up_without_context_asks_back(chat: CollectingChannel) -> None:
    for text in ["那中山呢？", "还有吗", "/more", "东莞呢"]:
        reply = await chat.say(text)
        assert reply.kind == "ask_back", text
        assert not reply.answers and "请先完整地问" in reply.plain_text()


async def test_context_expires(chat: CollectingChannel, clock: FakeClock) -> None:
    await chat.say(QUESTION)
    clock.advance(minutes=29)
    assert (await chat.say("那中山呢？")).city == "中山"
    clock.advance(minutes=31)
    reply = await chat.say("还有吗")
    assert reply.kind == "ask_back" and "超时" in reply.plain_text()
    assert (await chat.say("东莞呢")).kind == "ask_back"


async def test_new_question_replaces_the_context(chat: CollectingChannel) -> None:
    await chat.say(QUESTION)
    second = await chat.say("中山英才计划特聘人才补贴标准是多少")
    assert second.city == "中山"
    follow = await chat.say("那东莞呢？")
    assert follow.city == "东莞"
    assert follow.intents and follow.intents[0].label in {"talent", "funding"}


async def test_many_sessions_at_once_do_not_mix(dialogue: Dialogue) -> None:
    cities = ["东莞", "中山", "广州", "东莞", "中山", "广州"] * 2
    chats = [CollectingChannel(dialogue, user=f"u{i}", session=f"s{i}") for i in range(len(cities))]
    questions = {
        "东莞": QUESTION,
        "中山": "中山的数字贷贴息怎么申请？",
        "广州": "广州有哪些人才政策？",
    }
    first = await asyncio.gather(
        *(chat.say(questions[city]) for chat, city in zip(chats, cities, strict=True))
    )
    assert [reply.city for reply in first] == cities
    more = await asyncio.gather(*(chat.say("还有吗") for chat in chats))
    for chat, city, page in zip(chats, cities, more, strict=True):
        assert page.answers and all(answer.city == city for answer in page.answers), chat.session
        assert not set(ids(page)) & set(ids(chat.replies[0]))


async def test_restart_keeps_the_context(
    service: AnswerService, db_engine: Engine, settings: Settings, clock: FakeClock
) -> None:
    before = CollectingChannel(Dialogue(service, db_engine, settings, clock=clock))
    first = await before.say(QUESTION)
    after = CollectingChannel(Dialogue(service, db_engine, settings, clock=clock))
    page = await after.say("还有吗")
    assert page.answers and not set(ids(page)) & set(ids(first))
    assert (await after.say("那中山呢？")).city == "中山"


async def test_same_session_on_two_channels_is_two_conversations(dialogue: Dialogue) -> None:
    telegram = CollectingChannel(dialogue, channel="telegram", session="42")
    wecom = CollectingChannel(dialogue, channel="wecom", session="42")
    await telegram.say(QUESTION)
    assert (await wecom.say("还有吗")).kind == "ask_back"


# ---------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "请输入"),
        ("   \n\t ", "请输入"),
        ("\x00\x01\x02\x1b[31m", "没有能识别的文字"),
        ("\u200b\u200b\ufeff", "没有能识别的文字"),
        ("？？？！！。", "没有能识别的文字"),
    ],
)
async def test_empty_and_junk_messages_get_a_clear_message(
    chat: CollectingChannel, text: str, expected: str
) -> None:
    reply = await chat.say(text)
    assert reply.kind == "invalid" and expected in reply.plain_text()


async def test_huge_message_is_asked_to_be_shortened(chat: CollectingChannel) -> None:
    reply = await chat.say("东莞5G补贴" * 200)
    assert reply.kind == "invalid"
    assert str(MAX_QUESTION_CHARS) in reply.plain_text() and "1200" in reply.plain_text()


async def test_control_characters_inside_a_question_are_ignored(chat: CollectingChannel) -> None:
    reply = await chat.say("东莞\x005G项目\u200b能拿多少补贴？\x1b")
    assert reply.kind == "answer" and reply.city == "东莞"
    assert clean_text(" a\tb\n\x00c ") == "a b c"


async def test_internal_error_becomes_a_polite_reply(
    service: AnswerService,
    db_engine: Engine,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(AnswerService):
        def __init__(self, inner: AnswerService) -> None:
            self.__dict__.update(inner.__dict__)

        def answer(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def,override]
            raise RuntimeError("index on fire")

    chat = CollectingChannel(Dialogue(Broken(service), db_engine, settings))
    reply = await chat.say(QUESTION)
    assert reply.kind == "error" and "抱歉" in reply.plain_text()
    assert "index on fire" not in reply.plain_text() and "Traceback" not in reply.plain_text()
    assert "dialogue failed" in caplog.text


# ---------------------------------------------------------------------- logging


async def test_every_question_is_logged(chat: CollectingChannel, db_engine: Engine) -> None:
    abstained = await chat.say("iPhone 5G手机多少钱")
    answered = await chat.say(QUESTION)
    await chat.say("那中山呢？")
    await chat.say("/help")
    with Session(db_engine) as session:
        rows = session.exec(select(BotQuestion).order_by(BotQuestion.id)).all()
    assert [row.text for row in rows] == ["iPhone 5G手机多少钱", QUESTION, "那中山呢？"]
    second, first, third = rows
    assert first.id == answered.question_id and second.id == abstained.question_id
    assert (first.channel, first.user_id, first.session_id) == ("test", "u1", "s1")
    assert first.city == "东莞" and not first.abstained and first.kind == "answer"
    assert first.answer_ids == ids(answered)
    assert {i["label"] for i in first.intents} >= {"5g", "funding"}
    assert first.latency_ms >= 0 and first.created_at is not None
    assert second.abstained and second.answer_ids == [] and second.reason == "no_match"
    assert third.city == "中山" and third.question == QUESTION


async def test_context_is_stored_per_session(chat: CollectingChannel, db_engine: Engine) -> None:
    reply = await chat.say(QUESTION)
    with Session(db_engine) as session:
        row = session.get(BotContext, "test:s1")
    assert row is not None
    assert row.last_question == QUESTION and row.city == "东莞"
    assert row.shown_ids == ids(reply) and "5g" in row.intents
    assert row.question_id == reply.question_id


# ---------------------------------------------------------------------- commands


@pytest.mark.parametrize("text", ["/start", "/help", "/help@PolicyBot", "/START"])
async def test_start_and_help(chat: CollectingChannel, text: str) -> None:
    reply = await chat.say(text)
    assert reply.kind == "help"
    body = reply.plain_text()
    for topic in ["资金补贴", "5G", "人才", "贷款融资"]:
        assert topic in body
    assert "东莞5G项目能拿多少补贴？" in body and "/lookup" in body
    assert "/reload" not in body, "admin commands are shown to admins only"
    assert any(command.startswith("/lookup ") for command in commands(reply))


async def test_help_for_admins_lists_admin_commands(admin: CollectingChannel) -> None:
    assert "/reload" in (await admin.say("/help")).plain_text()


async def test_unknown_command_gets_help(chat: CollectingChannel) -> None:
    reply = await chat.say("/frobnicate@PolicyBot now")
    assert reply.kind == "help" and "/frobnicate" in reply.plain_text()


async def test_topics_lists_topics_and_coverage(chat: CollectingChannel) -> None:
    body = (await chat.say("/topics")).plain_text()
    for word in ["资金补贴", "5G", "人才", "贷款融资", "东莞", "中山", "广州", "宝安"]:
        assert word in body
    assert "条" in body


async def test_doc_by_number_shows_the_card(chat: CollectingChannel) -> None:
    reply = await chat.say("/doc 东工信函〔2021〕134号")
    body = reply.plain_text()
    assert reply.kind == "command"
    assert "东莞市工业和信息化局" in body and "2021-06-09" in body and "谭福龙委员" in body
    assert "一、" in body and "二、" in body, "the outline of top-level sections"
    assert (await chat.say("/doc 东工信函[2021]134号")).plain_text() == body


async def test_doc_by_title_words_and_not_found(chat: CollectingChannel) -> None:
    baoan = (await chat.say("/doc 宝安区大力发展工业互联网")).plain_text()
    assert "文号：无" in baoan and "宝安" in baoan
    several = await chat.say("/doc 东工信函")
    assert "请选择" in several.plain_text()
    assert "/doc 东工信函〔2021〕134号" in commands(several)
    missing = await chat.say("/doc 北京市人民政府令")
    assert "没有找到" in missing.plain_text() and len(missing.buttons) == 5
    assert "用法" in (await chat.say("/doc")).plain_text()


async def test_full_shows_the_whole_clause(chat: CollectingChannel) -> None:
    reply = await chat.say(QUESTION)
    full = await chat.press(next(b for b in reply.buttons if b.label == "原文 1"))
    assert full.kind == "command" and len(full.answers) == 1
    clause = full.answers[0]
    assert clause.passage_id == reply.answers[0].passage_id
    assert clause.excerpt == clause.passage == reply.answers[0].passage
    assert clause.section in clause.citation
    assert "没有找到" in (await chat.say("/full nosuchclause")).plain_text()
    assert "用法" in (await chat.say("/full")).plain_text()


async def test_answer_numbers_continue_across_pages_and_full_n_follows_them(
    chat: CollectingChannel,
) -> None:
    first = await chat.say(QUESTION)
    assert first.first_number == 1 and first.plain_text().count("1. 「") == 1
    more = await chat.say("/more")
    assert more.answers and more.first_number == len(first.answers) + 1
    number = more.first_number
    assert f"{number}. 「" in more.plain_text(), "page two goes on from page one's numbers"
    assert f"/full {number}" in commands(more)
    full = await chat.say(f"/full {number}")
    assert full.answers[0].passage_id == more.answers[0].passage_id
    assert f"{number}. 「" in full.plain_text(), "shown under the number it was asked by"
    again = await chat.say("/full 1")
    assert again.answers[0].passage_id == first.answers[0].passage_id, "page one stays valid"
    by_id = await chat.say(f"/full {first.answers[1].passage_id}")
    assert by_id.answers[0].passage_id == first.answers[1].passage_id, "ids still work"
    beyond = await chat.say("/full 99")
    assert not beyond.answers and "没有第 99 条答案" in beyond.plain_text()


async def test_full_number_without_a_conversation_says_so(dialogue: Dialogue) -> None:
    stranger = CollectingChannel(dialogue, user="u9", session="s9")
    reply = await stranger.say("/full 2")
    assert not reply.answers and "没有第 2 条答案" in reply.plain_text()


# ---------------------------------------------------------------------- replies keep their promises


@pytest.mark.parametrize("text", ["谢谢", "谢谢你！", "好的，谢谢", "多谢啦", "Thanks!", "明白了"])
async def test_thanks_get_a_short_reply_not_the_welcome(chat: CollectingChannel, text: str) -> None:
    reply = await chat.say(text)
    assert reply.plain_text() == "不客气！还有问题随时问我。"
    assert not reply.answers and not reply.buttons


async def test_a_question_in_english_is_told_the_bot_reads_chinese(
    chat: CollectingChannel,
) -> None:
    reply = await chat.say("How much subsidy can a 5G project in Dongguan get?")
    assert reply.abstained
    assert reply.text[0].startswith("我只能读懂中文提问")
    assert "没有找到与「" not in reply.plain_text()


async def test_a_long_chatty_question_is_asked_for_place_and_topic_not_echoed(
    chat: CollectingChannel,
) -> None:
    chatty = "我最近一直在想我们公司到底应该怎么办才好呢你能给我一些建议吗"
    reply = await chat.say(chatty)
    assert reply.abstained
    body = reply.plain_text()
    assert chatty[:10] not in body, "the question is not echoed back as its own topic"
    assert "哪个地区" in body and "哪方面" in body
    assert "东莞" in body and "资金补贴" in body, "it says which places and topics it knows"


async def test_a_place_without_a_topic_is_asked_for_the_topic(chat: CollectingChannel) -> None:
    reply = await chat.say("中山那边有什么说法吗我想了解一下")
    assert reply.abstained
    assert reply.text[0].startswith("您想了解中山哪方面的政策？")
    assert "有什么说法" not in reply.plain_text()


async def test_an_abstention_names_the_lookups_it_offers(chat: CollectingChannel) -> None:
    reply = await chat.say("个人住房公积金贷款利率是多少？")
    assert reply.abstained and reply.buttons
    body = reply.plain_text()
    assert "点下面" not in body, "no promise of buttons a plain-text reply cannot show"
    for button in reply.buttons:
        assert button.command.startswith("/lookup ")
        assert button.label in body, "every offered lookup is named in the text itself"
    assert "/lookup 名称" in body


async def test_feedback_is_stored_on_the_question(
    chat: CollectingChannel, dialogue: Dialogue, db_engine: Engine
) -> None:
    reply = await chat.say(QUESTION)
    thanks = await chat.press(next(b for b in reply.buttons if b.label == "👍"))
    assert "谢谢" in thanks.plain_text()
    with Session(db_engine) as session:
        row = session.get(BotQuestion, reply.question_id)
    assert row is not None and row.feedback == "up" and row.feedback_at is not None
    stranger = CollectingChannel(dialogue, user="u2", session="s2")
    refused = await stranger.say(f"/feedback {reply.question_id} down")
    assert "没有找到" in refused.plain_text()
    assert "用法" in (await chat.say("/feedback 1 sideways")).plain_text()
    await chat.say(f"/feedback {reply.question_id} down")
    with Session(db_engine) as session:
        assert session.get(BotQuestion, reply.question_id).feedback == "down"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text", ["/reload", "/stats", "/stats@PolicyBot", "/lookup del 东莞5G补贴"]
)
async def test_admin_commands_are_refused_to_others(chat: CollectingChannel, text: str) -> None:
    reply = await chat.say(text)
    assert reply.kind == "refusal" and "管理员" in reply.plain_text()


async def test_refusal_for_lookup_add(chat: CollectingChannel) -> None:
    reply = await chat.say("/lookup add 我的 = 东莞5G项目有什么补贴")
    assert reply.kind == "refusal"
    assert "我的" not in (await chat.say("/lookup")).plain_text()


async def test_admin_reload_reports_changes(admin: CollectingChannel) -> None:
    reply = await admin.say("/reload")
    assert reply.kind == "command"
    lines = reply.plain_text().splitlines()
    assert lines[0] == "已重新载入政策文件：" and len(lines) > 1


async def test_admin_stats(
    admin: CollectingChannel, chat: CollectingChannel, clock: FakeClock
) -> None:
    first = await chat.say(QUESTION)
    await chat.say(f"/feedback {first.question_id} up")
    await chat.say("iPhone 5G手机多少钱")
    await chat.say("iPhone 5G手机多少钱")
    clock.advance(days=1)
    await chat.say("广州有哪些人才政策？")
    body = (await admin.say("/stats")).plain_text()
    assert "2024-05-06：3" in body and "2024-05-07：1" in body
    assert "50%（2/4）" in body
    assert "2 次：iPhone 5G手机多少钱" in body
    assert "👍 1  👎 0" in body


async def test_lookups_list_run_add_and_delete(
    chat: CollectingChannel, admin: CollectingChannel
) -> None:
    listing = await chat.say("/lookup")
    assert "东莞5G补贴" in listing.plain_text()
    assert "/lookup 东莞5G补贴" in commands(listing)
    ran = await chat.say("/lookup 东莞5G补贴")
    assert ran.kind == "answer" and ran.city == "东莞" and ran.answers
    assert (await chat.say("那中山呢？")).city == "中山", "a lookup starts a conversation"
    added = await admin.say("/lookup add 中山贴息 = 中山数字贷贴息怎么申请")
    assert "已保存" in added.plain_text()
    run = await chat.say("/lookup 中山贴息")
    assert run.city == "中山" and run.answers
    assert "已删除" in (await admin.say("/lookup del 中山贴息")).plain_text()
    assert "没有名为" in (await chat.say("/lookup 中山贴息")).plain_text()
    assert "没有名为" in (await admin.say("/lookup del 中山贴息")).plain_text()
    assert "用法" in (await admin.say("/lookup add 没有问题 =")).plain_text()
    bad = await admin.say("/lookup add " + "长" * 30 + " = 东莞5G")
    assert "名称" in bad.plain_text()
