"""The Telegram channel end to end: the real python-telegram-bot client against a stand-in Bot
API server on 127.0.0.1, over the real dialogue core (seeds, a temporary SQLite database).

A few channel-only behaviours (a slow question, a failing core, a very long reply, a long button
command) use a small stand-in core so that the condition can be produced on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.channels.telegram import CALLBACK_DATA_BYTES, TelegramChannel, TelegramConfig
from bot.channels.telegram.render import MESSAGE_LIMIT, render_reply
from bot.settings import Settings
from bot.types import Button, Incoming, Reply
from tests.fakes.answers import long_answer, visible_text
from tests.fakes.telegram_api import BOT_USERNAME, Call, FakeTelegramAPI

pytestmark = pytest.mark.e2e

SEEDS = Path(__file__).resolve().parents[3] / "seeds"
TEXTS = TelegramConfig.load().texts
CORE_TEXTS = tomllib.loads(
    (Path(__file__).resolve().parents[3] / "bot" / "data" / "texts.toml").read_text("utf-8")
)
QUESTION = "东莞5G项目能拿多少补贴？"
CITED_NUMBER = "东工信函〔2021〕169号"
ADMIN = 4242


class FrozenClock:
    """Time that moves only when a test says so: throttling without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def telegram_settings(api: FakeTelegramAPI, tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "telegram_bot_token": api.token,
        "telegram_base_url": api.base_url,
        "telegram_webhook_url": None,
        "admin_ids": {str(ADMIN)},
        "database_url": f"sqlite:///{tmp_path / 'policybot.db'}",
        "corpus_dir": SEEDS,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def running_channel(
    api: FakeTelegramAPI,
    dialogue: object,
    tmp_path: Path,
    **overrides: object,
) -> AsyncIterator[TelegramChannel]:
    channel = TelegramChannel(
        dialogue,  # type: ignore[arg-type]
        telegram_settings(api, tmp_path, **overrides),
        poll_timeout=1,
    )
    await channel.start()
    try:
        yield channel
    finally:
        await channel.stop()


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> object:
    """The real dialogue core over the seeds, built once for this module."""
    from bot.app import build_dialogue

    folder = tmp_path_factory.mktemp("telegram-core")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{folder / 'policybot.db'}",
        corpus_dir=SEEDS,
        admin_ids={str(ADMIN)},
    )
    return build_dialogue(settings)


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as server:
        yield server


@pytest.fixture
async def bot(api: FakeTelegramAPI, core: object, tmp_path: Path) -> AsyncIterator[TelegramChannel]:
    async with running_channel(api, core, tmp_path) as channel:
        yield channel


async def ask(api: FakeTelegramAPI, text: str, user_id: int, **kwargs: object) -> Call:
    """Send ``text`` as ``user_id`` and return the bot's (last part of its) answer."""
    before = len(api.calls_of("sendMessage", chat_id=kwargs.get("chat_id", user_id)))
    sender = api.command if text.startswith("/") else api.message
    sender(text, user_id=user_id, **kwargs)  # type: ignore[arg-type]
    sent = await api.wait_for(
        "sendMessage", count=before + 1, chat_id=kwargs.get("chat_id", user_id)
    )
    return sent[-1]


def button(call: Call, label_part: str) -> str:
    """The callback data of the first button whose label contains ``label_part``."""
    for label, data in call.buttons():
        if label_part in label:
            return data
    raise AssertionError(f"no button {label_part!r} in {call.buttons()}")


# ------------------------------------------------------------------ end to end, real core


async def test_startup_publishes_chinese_command_menu(api: FakeTelegramAPI, bot: TelegramChannel):
    [call] = api.calls_of("setMyCommands")
    menu = {entry["command"]: entry["description"] for entry in call.params["commands"]}
    assert menu == TelegramConfig.load().commands and len(menu) >= 5
    untranslated = [text for text in menu.values() if not re.search(r"[\u4e00-\u9fff]", text)]
    assert not untranslated
    assert api.calls_of("getMe")
    assert await api.wait_for("getUpdates")  # polling by default


async def test_question_answered_with_citation_in_html(api: FakeTelegramAPI, bot: TelegramChannel):
    answer = await ask(api, QUESTION, user_id=11)
    assert answer.params["parse_mode"] == "HTML"
    assert CITED_NUMBER in answer.text
    assert "<blockquote>" in answer.text and "</blockquote>" in answer.text
    assert re.search(r"<i>[^<]*" + re.escape(CITED_NUMBER), answer.text)
    assert "<b>" in answer.text  # amounts emphasised
    labels = [label for label, _ in answer.buttons()]
    assert any("原文" in label for label in labels)
    assert "👍" in "".join(labels) and "👎" in "".join(labels)
    sizes = [len(data.encode()) for _, data in answer.buttons()]
    assert sizes and max(sizes) <= CALLBACK_DATA_BYTES


async def test_every_button_pressed(api: FakeTelegramAPI, bot: TelegramChannel):
    user = 12
    answer = await ask(api, QUESTION, user_id=user)

    api.press(button(answer, "原文"), user_id=user, on=answer)
    full = (await api.wait_for("sendMessage", count=2, chat_id=user))[-1]
    assert CITED_NUMBER in full.text
    assert await api.wait_for("answerCallbackQuery", count=1)

    api.press(button(answer, "更多"), user_id=user, on=answer)
    more = (await api.wait_for("sendMessage", count=3, chat_id=user))[-1]
    assert visible_text(more.text).strip()
    assert more.text != answer.text

    for vote, count in (("👍", 2), ("👎", 3)):
        before = len(api.calls_of("sendMessage", chat_id=user))
        api.press(button(answer, vote), user_id=user, on=answer)
        acks = await api.wait_for("answerCallbackQuery", count=count + 1)
        assert acks[-1].params.get("text")  # feedback acknowledged in a toast
        edits = await api.wait_for("editMessageReplyMarkup", count=count - 1)
        remaining = str(edits[-1].params.get("reply_markup", ""))
        assert vote not in remaining  # the voted row is gone
        assert len(api.calls_of("sendMessage", chat_id=user)) == before

    api.press("#0123456789abcdef01234567", user_id=user, on=answer)
    expired = await api.wait_for("sendMessage", chat_id=user, text=TEXTS["button_expired"])
    assert expired
    acks = await api.wait_for("answerCallbackQuery", count=5)
    assert acks[-1].params.get("text") == TEXTS["button_expired"]


async def test_lookup_buttons_run_their_lookup(api: FakeTelegramAPI, bot: TelegramChannel):
    user = 13
    listing = await ask(api, "/lookup", user_id=user)
    assert listing.buttons(), "the core offers canned lookups as buttons"
    _label, data = listing.buttons()[0]
    assert len(data.encode()) <= CALLBACK_DATA_BYTES
    api.press(data, user_id=user, on=listing)
    ran = (await api.wait_for("sendMessage", count=2, chat_id=user))[-1]
    assert visible_text(ran.text).strip()
    assert TEXTS["button_expired"] not in ran.text


async def test_start_greets_with_examples(api: FakeTelegramAPI, bot: TelegramChannel):
    greeting = await ask(api, "/start", user_id=14)
    for example in CORE_TEXTS["help"]["examples"]:
        assert example in visible_text(greeting.text)


async def test_reload_for_admin_only(api: FakeTelegramAPI, bot: TelegramChannel):
    refusal = CORE_TEXTS["refusal"]["admin_only"].format(command="/reload")
    refused = await ask(api, "/reload", user_id=15)
    assert visible_text(refused.text) == refusal
    done = await ask(api, "/reload", user_id=ADMIN)
    assert visible_text(done.text).strip()
    assert refusal not in visible_text(done.text)


async def test_admin_claim_in_text_grants_nothing(api: FakeTelegramAPI, bot: TelegramChannel):
    refused = await ask(api, f"/reload admin={ADMIN}", user_id=16)
    assert "管理员" in visible_text(refused.text)


async def test_markup_in_user_text_is_escaped(api: FakeTelegramAPI, bot: TelegramChannel):
    answer = await ask(api, "/doc <b>x</b> & <script>alert(1)</script>", user_id=17)
    assert "<script>" not in answer.text and "<b>x</b>" not in answer.text
    # the stand-in server refuses malformed Telegram HTML with 400, so reaching here means valid
    assert visible_text(answer.text).strip()
    if "script" in answer.text:
        assert "&lt;script&gt;" in answer.text


async def test_sticker_gets_a_hint(api: FakeTelegramAPI, bot: TelegramChannel):
    api.sticker(user_id=18)
    [hint] = await api.wait_for("sendMessage", chat_id=18)
    assert hint.text == TEXTS["media_hint"]


async def test_very_long_message_answered_not_failed(api: FakeTelegramAPI, bot: TelegramChannel):
    answer = await ask(api, "东莞补贴" * 1500, user_id=19)  # 6,000 characters
    assert visible_text(answer.text).strip()
    assert answer.text != TEXTS["error"]


async def test_edited_message_is_answered_again(api: FakeTelegramAPI, bot: TelegramChannel):
    user = 20
    await ask(api, "你好", user_id=user)
    api.message(QUESTION, user_id=user, edited=True)
    edited = (await api.wait_for("sendMessage", count=2, chat_id=user))[-1]
    assert CITED_NUMBER in edited.text


async def test_flood_from_one_user_does_not_starve_another(
    api: FakeTelegramAPI, bot: TelegramChannel
):
    flooder, patient = 21, 22
    for _ in range(12):
        api.message(QUESTION, user_id=flooder)
    api.message(QUESTION, user_id=patient)
    [answer] = await api.wait_for("sendMessage", chat_id=patient)
    assert CITED_NUMBER in answer.text
    sent = await api.wait_for("sendMessage", count=12, chat_id=flooder)
    cited = [call for call in sent if CITED_NUMBER in call.text]
    assert len(cited) == len(sent) == 12  # every one answered, none refused


async def test_group_answers_only_when_addressed(api: FakeTelegramAPI, bot: TelegramChannel):
    group, user = -100777, 23
    api.message(QUESTION, user_id=user, chat_id=group, chat_type="supergroup")
    api.command("/help@someone_else_bot", user_id=user, chat_id=group, chat_type="supergroup")
    mention = f"@{BOT_USERNAME} {QUESTION}"
    api.message(
        mention,
        user_id=user,
        chat_id=group,
        chat_type="supergroup",
        entities=[{"type": "mention", "offset": 0, "length": len(BOT_USERNAME) + 1}],
    )
    [answer] = await api.wait_for("sendMessage", chat_id=group)
    assert CITED_NUMBER in answer.text
    assert answer.params["reply_parameters"]["message_id"]  # answers as a reply in groups

    api.message(
        "那中山呢？", user_id=user, chat_id=group, chat_type="supergroup", reply_to_bot=True
    )
    await api.wait_for("sendMessage", count=2, chat_id=group)
    await ask(api, f"/help@{BOT_USERNAME}", user_id=user, chat_id=group, chat_type="supergroup")
    assert len(api.calls_of("sendMessage", chat_id=group)) == 3  # the two unaddressed: silence


async def test_retry_after_is_honoured(api: FakeTelegramAPI, bot: TelegramChannel):
    api.fail_next(
        "sendMessage",
        error_code=429,
        description="Too Many Requests: retry after 1",
        parameters={"retry_after": 1},
    )
    api.message(QUESTION, user_id=24)
    sent = await api.wait_for("sendMessage", count=2, chat_id=24)
    assert sent[0].text == sent[1].text  # the refused message was sent again, not dropped


# ------------------------------------------------------------- channel-only, stand-in core


class StandInCore:
    """A dialogue core whose replies and timing the test controls."""

    def __init__(self, respond: Callable[[Incoming], Awaitable[Reply]]) -> None:
        self.respond = respond
        self.seen: list[Incoming] = []

    async def handle(self, incoming: Incoming) -> Reply:
        self.seen.append(incoming)
        return await self.respond(incoming)


async def test_slow_question_does_not_block_other_users(api: FakeTelegramAPI, tmp_path: Path):
    released = asyncio.Event()

    async def respond(incoming: Incoming) -> Reply:
        if incoming.text == "慢":
            await released.wait()
        return Reply(text=[f"答：{incoming.text}"])

    async with running_channel(api, StandInCore(respond), tmp_path):
        api.message("慢", user_id=31)
        api.message("快", user_id=32)
        [fast] = await api.wait_for("sendMessage", chat_id=32)
        assert fast.text == "答：快"
        assert not api.calls_of("sendMessage", chat_id=31)
        await api.wait_for("sendChatAction", chat_id=31, action="typing")  # "typing…" meanwhile
        released.set()
        [slow] = await api.wait_for("sendMessage", chat_id=31)
        assert slow.text == "答：慢"


async def test_failing_core_gets_a_polite_message(api: FakeTelegramAPI, tmp_path: Path):
    async def respond(incoming: Incoming) -> Reply:
        raise RuntimeError("database is on fire")

    async with running_channel(api, StandInCore(respond), tmp_path):
        api.message("你好", user_id=33)
        [sent] = await api.wait_for("sendMessage", chat_id=33)
    assert sent.text == TEXTS["error"]
    assert "Traceback" not in sent.text and "fire" not in sent.text


async def test_long_reply_split_with_keyboard_on_last_part(api: FakeTelegramAPI, tmp_path: Path):
    long_name = "东莞市松山湖高新区5G融合应用与工业互联网专项资金补贴申请条件"  # > 64 bytes
    reply = Reply(
        text=["找到以下条款："],
        answers=[long_answer(n, 2500) for n in (1, 2, 3)],
        buttons=[Button("更多", "/more", "more"), Button(long_name, f"/lookup {long_name}")],
    )

    async def respond(incoming: Incoming) -> Reply:
        return reply if incoming.text == "长" else Reply(text=[f"收到：{incoming.text}"])

    core = StandInCore(respond)
    async with running_channel(api, core, tmp_path):
        api.message("长", user_id=34)
        sent = await api.wait_for("sendMessage", count=2, chat_id=34)
        await api.wait_for("sendMessage", count=len(render_reply(reply)), chat_id=34)
        sent = api.calls_of("sendMessage", chat_id=34)
        assert len(sent) == len(render_reply(reply)) >= 2
        assert max(len(call.text) for call in sent) <= MESSAGE_LIMIT
        assert [bool(call.buttons()) for call in sent] == [False] * (len(sent) - 1) + [True]
        data = button(sent[-1], "松山湖")
        assert data.startswith("#") and len(data.encode()) <= CALLBACK_DATA_BYTES
        api.press(data, user_id=34, on=sent[-1])
        await api.wait_for("sendMessage", chat_id=34, text=f"收到：/lookup {long_name}")
    assert core.seen[-1].text == f"/lookup {long_name}"
    assert core.seen[-1].channel == "telegram" and core.seen[-1].user_id == "34"


async def test_admin_flag_comes_from_settings_only(api: FakeTelegramAPI, tmp_path: Path):
    async def respond(incoming: Incoming) -> Reply:
        return Reply(text=[f"admin={incoming.is_admin}"])

    core = StandInCore(respond)
    async with running_channel(api, core, tmp_path):
        await ask(api, "/stats", user_id=ADMIN)
        await ask(api, f"/stats {ADMIN} admin", user_id=35)
    assert [incoming.is_admin for incoming in core.seen] == [True, False]
