"""The WeCom channel end to end: callbacks over HTTP (ASGI) and the stand-in WeCom API on 127.0.0.1.

Callbacks are encrypted and signed as WeCom does (Tencent's published sample vectors first),
posted to the real ``/wecom`` routes, and the passive replies decrypted. Active sends go over
real HTTP to ``tests/fakes/wecom_api.py``. The last group runs the real dialogue core
(``build_dialogue``) over the seeds with a temporary SQLite database.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from wechatpy.enterprise.crypto import WeChatCrypto

from bot.channels.wecom import WeComChannel
from bot.channels.wecom.render import WeComRenderer, load_config, utf8_len
from bot.delivery.store import SENT, Job
from bot.settings import Settings
from bot.types import Button, Incoming, Reply
from tests.fakes import wecom_vectors as V
from tests.fakes.answers import make_answer
from tests.fakes.wecom_api import FakeWeComApi, WeComCallbackClient

pytestmark = pytest.mark.e2e

SECRET = "corp-secret-never-logged"
AGENT_ID = 1000002
ADMIN = "zhangsan"
HINTS = load_config()["hints"]


def VECTOR_CLOCK() -> float:
    """The time Tencent's sample message vector was made: its timestamp is inside the window."""
    return float(V.MESSAGE_TIMESTAMP)


def ECHO_CLOCK() -> float:
    """The time of Tencent's sample URL-verification vector."""
    return float(V.ECHO_TIMESTAMP)


# ---- a small dialogue double (the real core is used at the end) ------------------------------


class ScriptedDialogue:
    """Answers from a script (text -> Reply), records calls, can be held at a gate."""

    def __init__(self, script: dict[str, Reply] | None = None) -> None:
        self.script = script or {}
        self.calls: list[Incoming] = []
        self.gate: asyncio.Event | None = None

    async def handle(self, incoming: Incoming) -> Reply:
        self.calls.append(incoming)
        if self.gate is not None:
            await self.gate.wait()
        if incoming.text in self.script:
            return self.script[incoming.text]
        return Reply(text=[f"收到：{incoming.text}"], kind="answer")


class CountingDialogue:
    """Wraps a real dialogue: counts calls, records (incoming, reply), can be held at a gate."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.calls: list[Incoming] = []
        self.replies: list[Reply] = []
        self.gate: asyncio.Event | None = None

    async def handle(self, incoming: Incoming) -> Reply:
        self.calls.append(incoming)
        if self.gate is not None:
            await self.gate.wait()
        reply = await self.inner.handle(incoming)  # type: ignore[attr-defined]
        self.replies.append(reply)
        return reply


# ---- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def fake_api() -> Iterator[FakeWeComApi]:
    with FakeWeComApi(corp_id=V.CORP_ID, secret=SECRET, agent_id=AGENT_ID) as api:
        yield api


def make_settings(database_url: str, api_base: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "corpus_dir": Path(__file__).resolve().parents[3] / "seeds",
        "wecom_corp_id": V.CORP_ID,
        "wecom_token": V.TOKEN,
        "wecom_aes_key": V.ENCODING_AES_KEY,
        "wecom_agent_id": str(AGENT_ID),
        "wecom_secret": SECRET,
        "wecom_api_base": api_base,
        "wecom_admin_ids": ADMIN,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(tmp_path: Path, fake_api: FakeWeComApi) -> Settings:
    return make_settings(f"sqlite:///{tmp_path / 'wecom.db'}", fake_api.base_url)


@pytest.fixture
async def connect(settings: Settings) -> AsyncIterator[Callable[..., object]]:
    """Builds a channel over a dialogue, serves it over ASGI, returns (channel, WeCom client)."""
    opened: list[tuple[WeComChannel, httpx.AsyncClient]] = []

    async def _connect(
        dialogue: object, *, budget: float = 5.0, channel_settings: Settings | None = None, **kw
    ) -> tuple[WeComChannel, WeComCallbackClient]:
        channel = WeComChannel(
            dialogue,  # type: ignore[arg-type]
            channel_settings or settings,
            reply_budget_seconds=budget,
            **kw,
        )
        await channel.start()
        app = Starlette(routes=channel.routes)
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://wecom")
        opened.append((channel, http))
        client = WeComCallbackClient(
            http, token=V.TOKEN, aes_key=V.ENCODING_AES_KEY, corp_id=V.CORP_ID, agent_id=AGENT_ID
        )
        return channel, client

    yield _connect
    for channel, http in opened:
        await asyncio.wait_for(http.aclose(), 10)
        await asyncio.wait_for(channel.stop(), 30)


# ---- Tencent's sample vectors through the real endpoint ---------------------------------------


async def test_url_verification_with_the_published_echo_vector(connect) -> None:
    _, client = await connect(ScriptedDialogue(), clock=ECHO_CLOCK)
    params = {
        "msg_signature": V.ECHO_SIGNATURE,
        "timestamp": V.ECHO_TIMESTAMP,
        "nonce": V.ECHO_NONCE,
        "echostr": V.ECHO_STR,
    }
    response = await client.http.get("/wecom", params=params)
    assert response.status_code == 200
    assert response.text == V.ECHO_PLAIN
    # the published failing variant: same signature, another nonce
    forged = await client.http.get("/wecom", params={**params, "nonce": V.ECHO_NONCE_WRONG})
    assert forged.status_code == 403
    assert V.ECHO_PLAIN not in forged.text


async def test_url_verification_tolerates_an_unencoded_plus(connect) -> None:
    _, client = await connect(ScriptedDialogue(), clock=ECHO_CLOCK)
    query = (
        f"msg_signature={V.ECHO_SIGNATURE}&timestamp={V.ECHO_TIMESTAMP}"
        f"&nonce={V.ECHO_NONCE}&echostr={V.ECHO_STR.replace('=', '%3D')}"
    )  # '+' left raw arrives as a space
    response = await client.http.get(f"/wecom?{query}")
    assert response.status_code == 200
    assert response.text == V.ECHO_PLAIN


async def test_url_verification_without_parameters_or_with_garbage_is_400(connect) -> None:
    _, client = await connect(ScriptedDialogue(), clock=ECHO_CLOCK)
    missing = await client.http.get("/wecom", params={"msg_signature": V.ECHO_SIGNATURE})
    assert missing.status_code == 400
    assert "echostr" in missing.text and "Traceback" not in missing.text
    # a correctly signed echostr that is not ciphertext
    garbage = "not-base64!!"
    signature = _sign(V.TOKEN, "1411443780", "1", garbage)
    response = await client.http.get(
        "/wecom",
        params={
            "msg_signature": signature,
            "timestamp": "1411443780",
            "nonce": "1",
            "echostr": garbage,
        },
    )
    assert response.status_code == 400


async def test_the_published_message_vector_is_answered(connect) -> None:
    dialogue = ScriptedDialogue()
    _, client = await connect(dialogue, clock=VECTOR_CLOCK)
    params = {
        "msg_signature": V.MESSAGE_SIGNATURE,
        "timestamp": V.MESSAGE_TIMESTAMP,
        "nonce": V.MESSAGE_NONCE,
    }
    reply = client.open(await client.post_raw(params, V.MESSAGE_BODY))
    assert [(c.channel, c.user_id, c.text, c.is_admin) for c in dialogue.calls] == [
        ("wecom", V.MESSAGE_FROM_USER, V.MESSAGE_CONTENT, False)
    ]
    assert reply is not None
    assert (reply.to_user, reply.from_user, reply.msgtype) == (
        V.MESSAGE_FROM_USER,
        V.CORP_ID,
        "text",
    )
    assert reply.content == f"收到：{V.MESSAGE_CONTENT}"


def test_the_published_reply_vector_decrypts_with_the_channel_settings(settings: Settings) -> None:
    assert settings.wecom_token is not None and settings.wecom_aes_key is not None
    crypto = WeChatCrypto(
        settings.wecom_token.get_secret_value(),
        settings.wecom_aes_key.get_secret_value(),
        str(settings.wecom_corp_id),
    )
    inner = crypto.decrypt_message(
        {"Encrypt": V.REPLY_ENCRYPT}, V.REPLY_SIGNATURE, V.REPLY_TIMESTAMP, V.REPLY_NONCE
    )
    assert f"<Content><![CDATA[{V.REPLY_CONTENT}]]></Content>" in inner
    assert f"<ToUserName><![CDATA[{V.REPLY_TO_USER}]]></ToUserName>" in inner


# ---- refusing what must not be processed --------------------------------------------------------


async def test_forged_signatures_are_refused_without_processing(connect, settings) -> None:
    dialogue = ScriptedDialogue()
    channel, client = await connect(dialogue)
    params, body = client.envelope(client.text_xml("lisi", "东莞5G项目能拿多少补贴？", "1001"))
    for forged in (
        {**params, "msg_signature": "0" * 40},
        {**params, "timestamp": str(int(params["timestamp"]) + 1)},
        {**params, "nonce": "other"},
    ):
        response = await client.post_raw(forged, body)
        assert response.status_code == 403
    assert dialogue.calls == []
    assert channel.delivery.store.counts() == {}


async def test_a_message_for_another_corp_is_refused(connect) -> None:
    dialogue = ScriptedDialogue()
    channel, client = await connect(dialogue)
    other_corp = WeChatCrypto(V.TOKEN, V.ENCODING_AES_KEY, "ww_other_corp")
    response = await client.post(client.text_xml("lisi", "你好", "1002"), crypto=other_corp)
    assert response.status_code == 403
    assert "receive id" in response.text
    assert dialogue.calls == []
    assert channel.delivery.store.counts() == {}


@pytest.mark.parametrize(
    "body",
    [
        "this is not xml",
        "<xml><Encrypt>unterminated",
        "<xml><ToUserName>wx</ToUserName></xml>",  # no Encrypt
        "<other><Encrypt>abc</Encrypt></other>",
        "",
    ],
)
async def test_garbage_bodies_are_400(connect, body: str) -> None:
    dialogue = ScriptedDialogue()
    _, client = await connect(dialogue)
    params = {"msg_signature": "0" * 40, "timestamp": "1", "nonce": "1"}
    response = await client.post_raw(params, body)
    assert response.status_code == 400
    assert "Traceback" not in response.text
    assert dialogue.calls == []


async def test_signed_but_undecryptable_or_unparsable_payloads_are_400(connect) -> None:
    dialogue = ScriptedDialogue()
    _, client = await connect(dialogue)
    garbage = "bm90IGNpcGhlcnRleHQ="  # valid base64, not a multiple of the AES block
    params = {"msg_signature": _sign(V.TOKEN, "1", "2", garbage), "timestamp": "1", "nonce": "2"}
    response = await client.post_raw(params, f"<xml><Encrypt>{garbage}</Encrypt></xml>")
    assert response.status_code == 400
    # correctly encrypted, but the inside is not a WeCom message
    for inner in ("plain words", "<xml><Content>no type</Content></xml>"):
        response = await client.post(inner)
        assert response.status_code == 400, inner
    assert dialogue.calls == []


async def test_missing_query_parameters_are_400(connect) -> None:
    _, client = await connect(ScriptedDialogue())
    params, body = client.envelope(client.text_xml("lisi", "你好"))
    response = await client.post_raw({"timestamp": params["timestamp"]}, body)
    assert response.status_code == 400
    assert "msg_signature" in response.text


async def test_oversized_bodies_are_413(connect) -> None:
    dialogue = ScriptedDialogue()
    _, client = await connect(dialogue)
    params, body = client.envelope(client.text_xml("lisi", "你好"))
    huge = body.replace("</xml>", "<Pad>" + "x" * 70_000 + "</Pad></xml>")
    assert (await client.post_raw(params, huge)).status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while reading
        for _ in range(20):
            yield b"<" * 4096

    response = await client.http.post("/wecom", params=params, content=chunks())
    assert response.status_code == 413
    assert dialogue.calls == []


# ---- retries: the same reply, never a second answer ---------------------------------------------


async def test_a_retried_msgid_gets_the_identical_reply_and_one_core_call(connect) -> None:
    dialogue = ScriptedDialogue()
    channel, client = await connect(dialogue)
    first = await client.ask("lisi", "东莞5G项目能拿多少补贴？", msg_id="2001")
    retry = await client.ask("lisi", "东莞5G项目能拿多少补贴？", msg_id="2001")
    assert first is not None and retry == first
    assert len(dialogue.calls) == 1
    row = outbox_row(channel, "lisi", "2001")
    assert row is not None and row.status == SENT and row.passive


async def test_a_retry_during_the_first_answer_waits_for_it(connect) -> None:
    dialogue = ScriptedDialogue()
    dialogue.gate = asyncio.Event()
    _, client = await connect(dialogue, budget=30)
    xml = client.text_xml("lisi", "中山呢？", msg_id="2002")
    first = asyncio.create_task(client.post(xml))
    while not dialogue.calls:
        await asyncio.sleep(0.01)
    retry = asyncio.create_task(client.post(xml, nonce="99"))
    await asyncio.sleep(0.05)
    assert not retry.done()
    dialogue.gate.set()
    replies = [client.open(response) for response in await asyncio.gather(first, retry)]
    assert replies[0] is not None and replies[0] == replies[1]
    assert len(dialogue.calls) == 1


async def test_events_are_deduplicated_by_user_and_time(connect) -> None:
    dialogue = ScriptedDialogue()
    _, client = await connect(dialogue)
    xml = client.event_xml("lisi", "enter_agent", create_time=1_700_000_000)
    first = client.open(await client.post(xml))
    again = client.open(await client.post(xml))
    assert first == again
    assert [call.text for call in dialogue.calls] == ["/start"]
    client.open(await client.post(client.event_xml("lisi", "enter_agent", 1_700_000_060)))
    assert len(dialogue.calls) == 2


# ---- slow answers go out through message/send --------------------------------------------------


async def test_a_slow_answer_takes_the_active_send_path(connect, fake_api) -> None:
    reply = Reply(text=["找到以下条款："], answers=[make_answer(1, "按照核定投入的25%给予资助")])
    dialogue = ScriptedDialogue({"东莞5G项目能拿多少补贴？": reply})
    dialogue.gate = asyncio.Event()
    channel, client = await connect(dialogue, budget=0.05)
    xml = client.text_xml("lisi", "东莞5G项目能拿多少补贴？", msg_id="3001")
    assert client.open(await client.post(xml)) is None  # empty 200 within the budget
    assert fake_api.sent == []
    # a retry before the answer is ready: still empty, still one core call
    assert client.open(await client.post(xml, nonce="7")) is None
    dialogue.gate.set()
    await channel.delivery.idle()
    [message] = fake_api.sent
    assert message.body["touser"] == "lisi" and message.body["agentid"] == AGENT_ID
    assert message.msgtype == "markdown"
    assert "> **按照**核定投入的25%给予资助" in message.content
    assert "—— 东莞市工业和信息化局《东工信函〔2021〕169号》第1条" in message.content
    # a late retry after the active send: empty 200, no second message
    assert client.open(await client.post(xml, nonce="8")) is None
    await channel.delivery.idle()
    assert len(fake_api.sent) == 1 and len(dialogue.calls) == 1
    row = outbox_row(channel, "lisi", "3001")
    assert row is not None and row.status == SENT and not row.passive
    assert fake_api.token_requests == 1


async def ask_slowly(
    channel: WeComChannel, client: WeComCallbackClient, dialogue: ScriptedDialogue, text: str
) -> None:
    """Ask while the core is held past the budget, so the answer goes out through message/send."""
    dialogue.gate = asyncio.Event()
    assert await client.ask("lisi", text) is None
    dialogue.gate.set()
    await channel.delivery.idle()


async def test_an_expired_token_is_refreshed_and_the_send_retried(connect, fake_api) -> None:
    dialogue = ScriptedDialogue()
    channel, client = await connect(dialogue, budget=0.01)
    await ask_slowly(channel, client, dialogue, "第一问")
    await ask_slowly(channel, client, dialogue, "第二问")  # same cached token
    assert fake_api.token_requests == 1
    fake_api.expire_tokens()
    await ask_slowly(channel, client, dialogue, "第三问")
    assert [m.content for m in fake_api.sent] == ["收到：第一问", "收到：第二问", "收到：第三问"]
    assert fake_api.refused == [("token-1", 42001)]
    assert fake_api.token_requests == 2
    assert fake_api.sent[-1].token == "token-2"
    fake_api.fail_next_send(40014)  # invalid token, once
    await ask_slowly(channel, client, dialogue, "第四问")
    assert fake_api.sent[-1].content == "收到：第四问" and fake_api.token_requests == 3


async def test_no_token_or_secret_in_any_log(connect, fake_api, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    dialogue = ScriptedDialogue()
    channel, client = await connect(dialogue, budget=0.01)
    await ask_slowly(channel, client, dialogue, "问题")
    fake_api.expire_tokens()
    await ask_slowly(channel, client, dialogue, "问题二")
    assert len(fake_api.sent) == 2
    assert "gettoken" in caplog.text and "message/send" in caplog.text  # httpx logged them...
    for secret in (SECRET, "token-1", "token-2"):
        assert secret not in caplog.text  # ...without the secret or the tokens


async def test_without_send_credentials_a_slow_answer_waits_for_a_retry(
    connect, tmp_path, fake_api
) -> None:
    no_api = make_settings(
        f"sqlite:///{tmp_path / 'noapi.db'}", fake_api.base_url, wecom_secret=None
    )
    config = copy.deepcopy(load_config())
    config["delivery"]["wait_without_api_seconds"] = 0.05
    dialogue = ScriptedDialogue()
    dialogue.gate = asyncio.Event()
    channel, client = await connect(dialogue, budget=0.01, channel_settings=no_api, config=config)
    xml = client.text_xml("lisi", "慢问题", msg_id="4201")
    first = await client.post(xml)
    assert first.status_code == 503  # WeCom will retry
    dialogue.gate.set()
    await channel.delivery.idle()
    retry = client.open(await client.post(xml, nonce="5"))
    assert retry is not None and retry.content == "收到：慢问题"
    assert len(dialogue.calls) == 1 and fake_api.sent == []


# ---- rendering and the 2048-byte limit ----------------------------------------------------------


async def test_every_passive_reply_fits_2048_bytes(connect, fake_api) -> None:
    long_excerpt = "企业购置5G设备并实施数字化改造的，按照项目核定投入金额的25%给予资助。" * 12
    reply = Reply(
        text=["找到以下与「东莞 5G」相关的政策条款："],
        answers=[make_answer(n, f"{n}号条款：{long_excerpt}") for n in range(1, 4)],
        footer=["还有 4 条相关条款，发送“更多”或 /more 查看。"],
        buttons=[Button("更多", "/more", "more"), Button("原文 1", "/full p1", "full")],
    )
    many = Reply(text=["很多条款："], answers=[make_answer(n, long_excerpt) for n in range(1, 11)])
    outline = Reply(text=["《文件》", "\n".join(f"  第{n}节 标题文字很长很长" for n in range(300))])
    dialogue = ScriptedDialogue({"长": reply, "多": many, "纲": outline})
    channel, client = await connect(dialogue)
    for question in ("长", "多", "纲"):
        passive = await client.ask("lisi", question)
        assert passive is not None
        assert utf8_len(passive.content) <= 2048
        assert "\ufffd" not in passive.content
    long_reply = await client.ask("lisi", "长")
    for n in (1, 2, 3):  # every answer kept, each with its citation, excerpts shortened
        assert f"东莞市工业和信息化局《东工信函〔2021〕169号》第{n}条" in long_reply.content
    assert "……" in long_reply.content and "/full" not in long_reply.content
    await channel.delivery.idle()
    # what did not fit went out actively, within WeCom's markdown/text limits
    assert fake_api.sent
    for message in fake_api.sent:
        limit = 4096 if message.msgtype == "markdown" else 2048
        assert utf8_len(message.content) <= limit


# ---- events, media, admin ------------------------------------------------------------------------


async def test_enter_agent_and_subscribe_are_greeted_other_events_ignored(connect) -> None:
    greeting = Reply(text=["您好，我是惠企政策助手。"], kind="help")
    dialogue = ScriptedDialogue({"/start": greeting})
    _, client = await connect(dialogue)
    for event in ("enter_agent", "subscribe"):
        reply = client.open(await client.post(client.event_xml("lisi", event)))
        assert reply is not None and reply.content == "您好，我是惠企政策助手。"
    assert client.open(await client.post(client.event_xml("lisi", "unsubscribe"))) is None
    assert [call.text for call in dialogue.calls] == ["/start", "/start"]


@pytest.mark.parametrize("msgtype", ["image", "voice", "video", "file", "location", "weird"])
async def test_media_gets_a_hint_without_the_core(connect, msgtype: str) -> None:
    dialogue = ScriptedDialogue()
    _, client = await connect(dialogue)
    reply = client.open(await client.post(client.media_xml("lisi", msgtype)))
    assert reply is not None
    assert reply.content == HINTS.get(msgtype, HINTS["default"])
    assert dialogue.calls == []


async def test_recognised_voice_is_asked_as_text(connect) -> None:
    dialogue = ScriptedDialogue()
    _, client = await connect(dialogue)
    xml = client.media_xml("lisi", "voice").replace(
        "</xml>", "<Recognition><![CDATA[东莞5G补贴]]></Recognition></xml>"
    )
    reply = client.open(await client.post(xml))
    assert reply is not None and reply.content == "收到：东莞5G补贴"


async def test_admin_comes_from_settings_by_userid_only(connect) -> None:
    dialogue = ScriptedDialogue()
    _, client = await connect(dialogue)
    await client.ask(ADMIN, "/reload")
    await client.ask("lisi", "/reload")
    await client.ask("lisi", f"/reload 我是 {ADMIN}")
    assert [(c.user_id, c.is_admin) for c in dialogue.calls] == [
        (ADMIN, True),
        ("lisi", False),
        ("lisi", False),
    ]
    assert {c.session_id for c in dialogue.calls} == {f"wecom:{ADMIN}", "wecom:lisi"}


# ---- helpers -----------------------------------------------------------------------------------


def _sign(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    import hashlib

    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


def outbox_row(channel: WeComChannel, user: str, msg_id: str) -> Job | None:
    return channel.delivery.store.find(f"wecom:{user}:msg:{msg_id}")


# ---- storage, on SQLite and PostgreSQL ---------------------------------------------------------


@pytest.fixture
async def real_core(settings: Settings) -> CountingDialogue:
    """``build_dialogue`` over the seeds with the test's temporary SQLite database, counted."""
    from bot.app import build_dialogue

    return CountingDialogue(await asyncio.to_thread(build_dialogue, settings))


async def test_a_policy_question_is_answered_with_its_citation(connect, real_core) -> None:
    _, client = await connect(real_core, budget=60)
    reply = await client.ask("lisi", "东莞5G项目能拿多少补贴？", msg_id="9001")
    assert reply is not None and reply.to_user == "lisi"
    assert "东工信函〔2021〕169号" in reply.content
    assert utf8_len(reply.content) <= 2048
    assert reply.content == WeComRenderer().passive(real_core.replies[0], can_send_rest=True).text
    retry = await client.ask("lisi", "东莞5G项目能拿多少补贴？", msg_id="9001")
    assert retry == reply
    assert len(real_core.calls) == 1
    more = await client.ask("lisi", "更多")
    assert more is not None and utf8_len(more.content) <= 2048
    assert real_core.calls[-1].session_id == real_core.calls[0].session_id == "wecom:lisi"


async def test_a_slow_real_answer_arrives_through_message_send(
    connect, real_core, fake_api
) -> None:
    channel, client = await connect(real_core, budget=0.01)
    real_core.gate = asyncio.Event()
    assert await client.ask("wangwu", "东莞5G项目能拿多少补贴？") is None
    real_core.gate.set()
    await channel.delivery.idle()
    assert fake_api.sent, fake_api.refused
    assert {message.body["touser"] for message in fake_api.sent} == {"wangwu"}
    assert any("东工信函〔2021〕169号" in message.content for message in fake_api.sent)
    assert len(real_core.calls) == 1


async def test_reload_for_admins_and_a_refusal_for_others(connect, real_core) -> None:
    from bot.texts import say

    _, client = await connect(real_core, budget=60)
    admin = await client.ask(ADMIN, "/reload")
    other = await client.ask("lisi", "/reload")
    assert admin is not None and other is not None
    assert say("reload", "lead") in admin.content
    assert other.content.startswith(say("refusal", "admin_only", command="/reload"))
    assert [call.is_admin for call in real_core.calls] == [True, False]


async def test_greeting_hint_and_every_command_fit_the_passive_limit(connect, real_core) -> None:
    _, client = await connect(real_core, budget=60)
    greeting = client.open(await client.post(client.event_xml("lisi", "enter_agent")))
    assert greeting is not None and real_core.calls[0].text == "/start"
    assert (
        greeting.content == WeComRenderer().passive(real_core.replies[0], can_send_rest=True).text
    )
    image = client.open(await client.post(client.media_xml("lisi", "image")))
    assert image is not None and image.content == HINTS["image"]
    assert len(real_core.calls) == 1
    for user, text in [
        ("lisi", "/help"),
        ("lisi", "/topics"),
        ("lisi", "/lookup"),
        ("lisi", "/doc 东工信函〔2021〕134号"),
        ("lisi", "中山的数字贷贴息怎么申请？"),
        ("lisi", "那东莞呢？"),
        ("lisi", "还有吗"),
        (ADMIN, "/stats"),
    ]:
        reply = await client.ask(user, text)
        assert reply is not None, text
        assert 0 < utf8_len(reply.content) <= 2048, text
        assert "\ufffd" not in reply.content and "<" not in reply.content, text


async def test_policybot_serve_runs_the_wecom_routes_over_http(settings, real_core) -> None:
    """``serve`` (bot/channels/serve.py) with WeCom: the echo vector and a question over TCP."""
    from bot.channels.serve import listening_socket, serve

    listener = listening_socket("127.0.0.1", 0)
    port = listener.getsockname()[1]
    stop = asyncio.Event()
    # the published echo vector is from 2014: a window wide enough to accept it
    wide_window = settings.model_copy(update={"wecom_timestamp_window_seconds": 1e10})
    running = asyncio.create_task(
        serve(real_core, wide_window, ["wecom"], stop=stop, sockets=[listener])
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            for _ in range(500):
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.02)
            echo = await http.get(
                "/wecom",
                params={
                    "msg_signature": V.ECHO_SIGNATURE,
                    "timestamp": V.ECHO_TIMESTAMP,
                    "nonce": V.ECHO_NONCE,
                    "echostr": V.ECHO_STR,
                },
            )
            assert echo.status_code == 200 and echo.text == V.ECHO_PLAIN
            client = WeComCallbackClient(
                http, token=V.TOKEN, aes_key=V.ENCODING_AES_KEY, corp_id=V.CORP_ID
            )
            reply = await client.ask("lisi", "东莞5G项目能拿多少补贴？")
            assert reply is not None and "东工信函〔2021〕169号" in reply.content
    finally:
        stop.set()
        assert await running == 0
