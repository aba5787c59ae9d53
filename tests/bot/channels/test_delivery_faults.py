"""Issue 11's fault table, driven through the stand-in servers and the real client libraries
(python-telegram-bot against tests/fakes/telegram_api.py, wechatpy against Tencent's sample
credentials and tests/fakes/wecom_api.py): no answer lost, none sent twice, the right user gets
it, and the user is told only what is true.

A small echo core stands in for the dialogue so that every answer names its question.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine
from starlette.applications import Starlette

from bot.channels.serve import readiness
from bot.channels.telegram import TelegramChannel
from bot.channels.wecom import WeComChannel
from bot.db import make_engine
from bot.delivery import FAILED, SENT, Delivery
from bot.settings import Settings
from bot.texts import say
from bot.types import Incoming, Reply
from tests.fakes import wecom_vectors as V
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.wecom_api import FakeWeComApi, WeComCallbackClient

SECRET = "corp-secret-never-logged"
AGENT_ID = 1000002
DEAD_POSTGRES = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
FAST = {"delivery_backoff_seconds": 0.01, "delivery_poll_seconds": 0.05}


class EchoCore:
    """Answers "答：<text>"; can be held at a gate; records who asked what."""

    def __init__(self) -> None:
        self.seen: list[Incoming] = []
        self.gate: asyncio.Event | None = None

    async def handle(self, incoming: Incoming) -> Reply:
        self.seen.append(incoming)
        if self.gate is not None:
            await self.gate.wait()
        return Reply(text=[f"答：{incoming.text}"])


# ---- Telegram -----------------------------------------------------------------------------------


def telegram_settings(api: FakeTelegramAPI, tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "telegram_bot_token": api.token,
        "telegram_base_url": api.base_url,
        "database_url": f"sqlite:///{tmp_path / 'delivery.db'}",
        **FAST,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as server:
        yield server


@contextlib.asynccontextmanager
async def telegram(api: FakeTelegramAPI, core: object, settings: Settings):
    channel = TelegramChannel(core, settings, poll_timeout=1, rate_limited=False)  # type: ignore[arg-type]
    await channel.start()
    try:
        yield channel
    finally:
        await asyncio.wait_for(channel.stop(), 30)


@pytest.mark.parametrize(
    "failures",
    [
        [(500, "Internal Server Error", {})],
        [(502, "Bad Gateway", {})],
        [(429, "Too Many Requests: retry after 0", {"parameters": {"retry_after": 0}})] * 4,
    ],
    ids=["500-once", "502-once", "429-four-times"],
)
async def test_a_refused_telegram_send_is_retried_and_sent_once(
    api: FakeTelegramAPI, tmp_path: Path, failures: list[tuple[int, str, dict]]
) -> None:
    for code, description, extra in failures:
        api.fail_next("sendMessage", error_code=code, description=description, **extra)
    async with telegram(api, EchoCore(), telegram_settings(api, tmp_path)) as channel:
        api.message("补贴", user_id=61)
        await api.wait_for("sendMessage", count=len(failures) + 1, chat_id=61)
        await channel.delivery.idle()
        accepted = api.accepted_of("sendMessage", chat_id=61)
        assert [call.text for call in accepted] == ["答：补贴"]  # not lost, not twice
        assert channel.delivery.store.counts() == {SENT: 1}


async def test_a_send_refused_for_good_is_recorded_failed_and_counted(
    api: FakeTelegramAPI, tmp_path: Path
) -> None:
    settings = telegram_settings(api, tmp_path, delivery_max_attempts=2)
    for _ in range(2):
        api.fail_next("sendMessage", error_code=500, description="Internal Server Error")
    async with telegram(api, EchoCore(), settings) as channel:
        api.message("补贴", user_id=62)
        await api.wait_for("sendMessage", count=2, chat_id=62)
        await channel.delivery.idle()
        assert channel.delivery.store.counts() == {FAILED: 1}
        assert api.accepted_of("sendMessage", chat_id=62) == []
    from bot.stats import Stats, stats_lines

    assert say("stats", "undelivered", failed=1) in stats_lines(Stats(days=7, undelivered=1))


async def test_a_fast_typist_and_an_admin_get_every_message_answered_in_order(
    api: FakeTelegramAPI, tmp_path: Path
) -> None:
    core = EchoCore()
    settings = telegram_settings(api, tmp_path, admins={"telegram:63"})
    async with telegram(api, core, settings):
        texts = [f"问题{n}" for n in range(12)] + ["/lookup del 东莞"]
        for text in texts:
            (api.command if text.startswith("/") else api.message)(text, user_id=63)
        sent = await api.wait_for("sendMessage", count=len(texts), chat_id=63)
        assert [call.text for call in sent] == [f"答：{text}" for text in texts]
        assert core.seen[-1].is_admin and core.seen[-1].text == "/lookup del 东莞"


async def test_past_the_queue_bound_a_polite_notice_names_the_message(
    api: FakeTelegramAPI, tmp_path: Path
) -> None:
    core = EchoCore()
    core.gate = asyncio.Event()
    async with telegram(api, core, telegram_settings(api, tmp_path, user_queue_limit=2)):
        for text in ("一", "二", "/help"):
            (api.command if text.startswith("/") else api.message)(text, user_id=64)
        [notice] = await api.wait_for("sendMessage", chat_id=64)
        assert notice.text == say("delivery", "queue_full", text="/help")
        core.gate.set()
        sent = await api.wait_for("sendMessage", count=3, chat_id=64)
        assert [call.text for call in sent[1:]] == ["答：一", "答：二"]


async def test_a_burst_of_1000_updates_from_50_users_ends_with_1000_answers_in_order(
    api: FakeTelegramAPI, tmp_path: Path
) -> None:
    users = range(1000, 1050)
    async with telegram(api, EchoCore(), telegram_settings(api, tmp_path)) as channel:
        for round_ in range(20):
            for user in users:
                api.message(f"{user}-{round_}", user_id=user)
        await api.wait_for("sendMessage", count=1000, timeout=240)
        await channel.delivery.idle(timeout=120)
        for user in users:
            answers = [call.text for call in api.accepted_of("sendMessage", chat_id=user)]
            assert answers == [f"答：{user}-{round_}" for round_ in range(20)]
        assert channel.delivery.store.counts() == {SENT: 1000}


async def test_an_unrecordable_message_is_not_called_recorded(
    api: FakeTelegramAPI, tmp_path: Path
) -> None:
    settings = telegram_settings(api, tmp_path)
    async with telegram(api, EchoCore(), settings) as channel:
        store = channel.delivery.store
        healthy = store.engine
        store.engine = make_engine(DEAD_POSTGRES)  # the database goes down
        try:
            api.message("补贴", user_id=65)
            [told] = await api.wait_for("sendMessage", chat_id=65)
        finally:
            store.engine.dispose()
            store.engine = healthy
        assert told.text == say("delivery", "not_recorded")
        assert "记录下来" not in say("error", "internal")  # the core's error claims nothing


async def test_a_20_mb_webhook_body_is_refused(api: FakeTelegramAPI, tmp_path: Path) -> None:
    settings = telegram_settings(
        api, tmp_path, telegram_webhook_url="https://example.invalid/telegram"
    )
    channel = TelegramChannel(EchoCore(), settings)  # type: ignore[arg-type]
    app = Starlette(routes=channel.routes)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot") as http:
        headers = {"X-Telegram-Bot-Api-Secret-Token": channel.webhook_secret}
        body = b'{"update_id": 1, "message": "' + b"x" * (20 * 1024 * 1024) + b'"}'
        response = await http.post("/telegram", content=body, headers=headers)
    assert response.status_code == 413


async def test_no_secret_in_logs_at_debug(
    api: FakeTelegramAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    settings = telegram_settings(
        api, tmp_path, telegram_webhook_url="https://example.invalid/telegram"
    )
    async with telegram(api, EchoCore(), settings) as channel:
        await api.wait_for("setWebhook")
        secret = channel.webhook_secret
    assert "setWebhook" in caplog.text  # PTB logged the call with its parameters...
    assert secret not in caplog.text and api.token not in caplog.text  # ...without secrets


# ---- WeCom --------------------------------------------------------------------------------------


def wecom_settings(database_url: str, api_base: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "wecom_corp_id": V.CORP_ID,
        "wecom_token": V.TOKEN,
        "wecom_aes_key": V.ENCODING_AES_KEY,
        "wecom_agent_id": str(AGENT_ID),
        "wecom_secret": SECRET,
        "wecom_api_base": api_base,
        **FAST,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture
def fake_wecom() -> object:
    with FakeWeComApi(corp_id=V.CORP_ID, secret=SECRET, agent_id=AGENT_ID) as server:
        yield server


@contextlib.asynccontextmanager
async def wecom(settings: Settings, core: object, *, budget: float = 3.0, clock=None):
    kwargs = {"clock": clock} if clock is not None else {}
    channel = WeComChannel(core, settings, reply_budget_seconds=budget, **kwargs)  # type: ignore[arg-type]
    await channel.start()
    app = Starlette(routes=channel.routes)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://wecom")
    client = WeComCallbackClient(
        http, token=V.TOKEN, aes_key=V.ENCODING_AES_KEY, corp_id=V.CORP_ID, agent_id=AGENT_ID
    )
    try:
        yield channel, client
    finally:
        await asyncio.wait_for(http.aclose(), 10)
        await asyncio.wait_for(channel.stop(), 30)


async def test_a_wecom_send_refused_once_with_45009_is_retried(tmp_path, fake_wecom) -> None:
    settings = wecom_settings(f"sqlite:///{tmp_path / 'w.db'}", fake_wecom.base_url)
    fake_wecom.fail_next_send(45009)
    async with wecom(settings, EchoCore(), budget=0) as (channel, client):
        assert await client.ask("lisi", "补贴") is None  # past the budget: an empty 200
        await channel.delivery.idle()
    assert [(m.body["touser"], m.content) for m in fake_wecom.sent] == [("lisi", "答：补贴")]
    assert [code for _, code in fake_wecom.refused] == [45009]


async def test_an_answer_cut_off_by_shutdown_is_sent_after_restart(tmp_path, fake_wecom) -> None:
    settings = wecom_settings(
        f"sqlite:///{tmp_path / 'w.db'}", fake_wecom.base_url, shutdown_grace_seconds=0.2
    )
    stuck = EchoCore()
    stuck.gate = asyncio.Event()  # never opens: the answer takes longer than the grace
    async with wecom(settings, stuck, budget=0.05) as (_channel, client):
        assert await client.ask("lisi", "慢问题", msg_id="7001") is None
    assert fake_wecom.sent == []
    fresh = EchoCore()
    async with wecom(settings, fresh) as (channel, client):
        await channel.delivery.idle()
        # WeCom's late retry of the same message: no second answer
        assert await client.ask("lisi", "慢问题", msg_id="7001") is None
        await channel.delivery.idle()
    assert [(m.body["touser"], m.content) for m in fake_wecom.sent] == [("lisi", "答：慢问题")]
    assert [incoming.text for incoming in fresh.seen] == ["慢问题"]


async def test_old_or_malformed_timestamps_are_refused(tmp_path, fake_wecom) -> None:
    settings = wecom_settings(f"sqlite:///{tmp_path / 'w.db'}", fake_wecom.base_url)
    core = EchoCore()
    now = 1_800_000_000.0
    async with wecom(settings, core, clock=lambda: now) as (_channel, client):
        xml = client.text_xml("lisi", "补贴", msg_id="8001")
        year_old = await client.post(xml, timestamp=str(int(now - 365 * 86400)))
        assert year_old.status_code == 403
        garbage = await client.post(xml, timestamp="abc")
        assert garbage.status_code == 400
        fresh = client.open(await client.post(xml, timestamp=str(int(now - 10))))
        assert fresh is not None and fresh.content == "答：补贴"
    assert [incoming.text for incoming in core.seen] == ["补贴"]


async def test_a_msgid_reused_by_another_user_is_another_message(tmp_path, fake_wecom) -> None:
    settings = wecom_settings(f"sqlite:///{tmp_path / 'w.db'}", fake_wecom.base_url)
    async with wecom(settings, EchoCore()) as (_channel, client):
        first = await client.ask("lisi", "东莞补贴", msg_id="9001")
        second = await client.ask("wangwu", "中山人才", msg_id="9001")
    assert first is not None and (first.to_user, first.content) == ("lisi", "答：东莞补贴")
    assert second is not None and (second.to_user, second.content) == ("wangwu", "答：中山人才")


async def test_a_write_locked_database_does_not_hold_the_callback(tmp_path, fake_wecom) -> None:
    database = tmp_path / "w.db"
    settings = wecom_settings(f"sqlite:///{database}", fake_wecom.base_url)
    async with wecom(settings, EchoCore(), budget=0.3) as (channel, client):
        locker = sqlite3.connect(database, isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")  # another process writing
        try:
            response = await client.post(client.text_xml("lisi", "补贴", msg_id="9101"))
            assert response.status_code == 200 and response.content == b""  # in budget, empty
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        await channel.delivery.idle()
    assert [(m.body["touser"], m.content) for m in fake_wecom.sent] == [("lisi", "答：补贴")]


async def test_readiness_needs_a_writable_database(tmp_path: Path) -> None:
    database = tmp_path / "r.db"
    settings = Settings(_env_file=None, database_url=f"sqlite:///{database}")  # type: ignore[call-arg]
    engine = make_engine(settings.database_url)
    Delivery(EchoCore(), engine, settings)  # creates the outbox
    assert await readiness(engine, object())() == {"database": True, "corpus": True}
    engine.dispose()
    readonly = create_engine(
        "sqlite://", creator=lambda: sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    )
    assert (await readiness(readonly, object())())["database"] is False
    readonly.dispose()
    dead = make_engine(DEAD_POSTGRES)
    assert (await readiness(dead, object())())["database"] is False
    dead.dispose()
