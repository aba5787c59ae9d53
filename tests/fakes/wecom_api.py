"""A stand-in WeCom server API on 127.0.0.1: gettoken and message/send, over real HTTP.

It checks corpid/corpsecret, hands out numbered tokens with a controllable ``expires_in``,
counts token requests, records every message sent, and can expire the current token (the next
send with it answers errcode 42001) or answer a chosen errcode once. Runs uvicorn in a thread,
so both sync and async tests can use it::

    with FakeWeComApi(corp_id="wx...", secret="s3cret") as api:
        settings = Settings(..., wecom_api_base=api.base_url)

``WeComCallbackClient`` plays WeCom's other side: it encrypts and signs callbacks as WeCom
does, posts them to ``/wecom`` and decrypts the passive replies.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
import xmltodict
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from wechatpy.enterprise.crypto import WeChatCrypto


@dataclass
class SentMessage:
    token: str
    body: dict[str, Any]

    @property
    def msgtype(self) -> str:
        return str(self.body.get("msgtype"))

    @property
    def content(self) -> str:
        return str(self.body.get(self.msgtype, {}).get("content", ""))


@dataclass
class _State:
    tokens_issued: int = 0
    valid_tokens: set[str] = field(default_factory=set)
    sent: list[SentMessage] = field(default_factory=list)
    refused: list[tuple[str, int]] = field(default_factory=list)  # (token, errcode) of refusals
    next_send_errcode: int | None = None


class FakeWeComApi:
    """The stand-in server; ``base_url`` is what WECOM_API_BASE should be set to."""

    def __init__(self, *, corp_id: str, secret: str, agent_id: int = 1000002) -> None:
        self.corp_id = corp_id
        self.secret = secret
        self.agent_id = agent_id
        self.expires_in = 7200
        self._state = _State()
        self._lock = threading.Lock()
        self._sent_signal = threading.Condition(self._lock)
        app = Starlette(
            routes=[
                Route("/cgi-bin/gettoken", self._gettoken, methods=["GET"]),
                Route("/cgi-bin/message/send", self._send, methods=["POST"]),
                Route("/cgi-bin/media/get", self._media, methods=["GET"]),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self.base_url = ""
        self.media: dict[str, bytes] = {}  # media_id -> bytes, served by media/get
        self.media_downloads: list[str] = []

    # ---- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> FakeWeComApi:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the stand-in WeCom API did not start")
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    # ---- controls and observations ------------------------------------------------------------

    @property
    def token_requests(self) -> int:
        with self._lock:
            return self._state.tokens_issued

    @property
    def sent(self) -> list[SentMessage]:
        with self._lock:
            return list(self._state.sent)

    @property
    def refused(self) -> list[tuple[str, int]]:
        with self._lock:
            return list(self._state.refused)

    def expire_tokens(self) -> None:
        """Every token handed out so far is expired: its next send answers 42001."""
        with self._lock:
            self._state.valid_tokens.clear()

    def fail_next_send(self, errcode: int) -> None:
        """The next message/send answers ``errcode`` once, whatever its token."""
        with self._lock:
            self._state.next_send_errcode = errcode

    def wait_for_messages(self, count: int, timeout: float = 10.0) -> list[SentMessage]:
        """Block until at least ``count`` messages were sent (for tests outside the event loop)."""
        with self._sent_signal:
            self._sent_signal.wait_for(lambda: len(self._state.sent) >= count, timeout=timeout)
            return list(self._state.sent)

    # ---- endpoints ----------------------------------------------------------------------------

    async def _gettoken(self, request: Request) -> JSONResponse:
        corp_id = request.query_params.get("corpid")
        secret = request.query_params.get("corpsecret")
        if corp_id != self.corp_id:
            return JSONResponse({"errcode": 40013, "errmsg": "invalid corpid"})
        if secret != self.secret:
            return JSONResponse({"errcode": 40001, "errmsg": "invalid credential"})
        with self._lock:
            self._state.tokens_issued += 1
            token = f"token-{self._state.tokens_issued}"
            self._state.valid_tokens.add(token)
        return JSONResponse(
            {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": self.expires_in}
        )

    async def _media(self, request: Request) -> Response:
        token = request.query_params.get("access_token", "")
        media_id = request.query_params.get("media_id", "")
        with self._lock:
            if token not in self._state.valid_tokens:
                return JSONResponse({"errcode": 40014, "errmsg": "invalid access_token"})
            if media_id not in self.media:
                return JSONResponse({"errcode": 40007, "errmsg": "invalid media_id"})
            self.media_downloads.append(media_id)
            data = self.media[media_id]
        return Response(data, media_type="application/octet-stream")

    async def _send(self, request: Request) -> JSONResponse:
        token = request.query_params.get("access_token", "")
        body = await request.json()
        with self._sent_signal:
            errcode = self._state.next_send_errcode
            self._state.next_send_errcode = None
            if errcode is None and token not in self._state.valid_tokens:
                errcode = 42001 if token.startswith("token-") else 40014
            if errcode is None and body.get("agentid") != self.agent_id:
                errcode = 40056  # invalid agentid
            if errcode is not None:
                self._state.refused.append((token, errcode))
                return JSONResponse({"errcode": errcode, "errmsg": "refused by stand-in"})
            self._state.sent.append(SentMessage(token=token, body=body))
            self._sent_signal.notify_all()
        return JSONResponse({"errcode": 0, "errmsg": "ok", "invaliduser": ""})


@dataclass(frozen=True)
class PassiveReply:
    """A decrypted passive reply: its fields as WeCom would read them."""

    to_user: str
    from_user: str
    msgtype: str
    content: str


class WeComCallbackClient:
    """Encrypts, signs and posts callbacks like WeCom; decrypts what the bot answers."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        token: str,
        aes_key: str,
        corp_id: str,
        agent_id: int = 1000002,
        path: str = "/wecom",
    ) -> None:
        self.http = http
        self.corp_id = corp_id
        self.agent_id = agent_id
        self.path = path
        self.crypto = WeChatCrypto(token, aes_key, corp_id)
        self._ids = itertools.count(int(time.time() * 1000))

    def next_id(self) -> str:
        return str(next(self._ids))

    # ---- inner messages, as WeCom writes them ---------------------------------------------------

    def text_xml(self, user: str, content: str, msg_id: str | None = None) -> str:
        return self._xml(
            user,
            f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
            f"<MsgId>{msg_id or self.next_id()}</MsgId>",
        )

    def media_xml(self, user: str, msgtype: str, msg_id: str | None = None) -> str:
        return self._xml(
            user,
            f"<MsgType><![CDATA[{msgtype}]]></MsgType><MediaId><![CDATA[media-1]]></MediaId>"
            f"<PicUrl><![CDATA[http://127.0.0.1/p.jpg]]></PicUrl>"
            f"<MsgId>{msg_id or self.next_id()}</MsgId>",
        )

    def file_xml(self, user: str, media_id: str, file_name: str, size: int) -> str:
        """A file message, as WeCom posts one for a file sent to the app."""
        return self._xml(
            user,
            f"<MsgType><![CDATA[file]]></MsgType><MediaId><![CDATA[{media_id}]]></MediaId>"
            f"<FileName><![CDATA[{file_name}]]></FileName><FileSize>{size}</FileSize>"
            f"<MsgId>{self.next_id()}</MsgId>",
        )

    def event_xml(self, user: str, event: str, create_time: int | None = None) -> str:
        return self._xml(
            user,
            f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>"
            "<EventKey><![CDATA[]]></EventKey>",
            create_time=create_time,
        )

    def _xml(self, user: str, fields: str, *, create_time: int | None = None) -> str:
        return (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            f"<FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{create_time or int(time.time())}</CreateTime>{fields}"
            f"<AgentID>{self.agent_id}</AgentID></xml>"
        )

    # ---- the callback -------------------------------------------------------------------------

    def envelope(
        self,
        inner_xml: str,
        *,
        nonce: str = "1372623149",
        timestamp: str | None = None,
        crypto: WeChatCrypto | None = None,
    ) -> tuple[dict[str, str], str]:
        """Query parameters and body of a callback carrying ``inner_xml``, signed and encrypted."""
        timestamp = timestamp or str(int(time.time()))
        sealed = xmltodict.parse(
            (crypto or self.crypto).encrypt_message(inner_xml, nonce, timestamp)
        )
        sealed = sealed["xml"]
        params = {"msg_signature": sealed["MsgSignature"], "timestamp": timestamp, "nonce": nonce}
        body = (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            f"<Encrypt><![CDATA[{sealed['Encrypt']}]]></Encrypt>"
            f"<AgentID><![CDATA[{self.agent_id}]]></AgentID></xml>"
        )
        return params, body

    async def post(self, inner_xml: str, **envelope: Any) -> httpx.Response:
        params, body = self.envelope(inner_xml, **envelope)
        return await self.post_raw(params, body)

    async def post_raw(self, params: dict[str, str], body: str | bytes) -> httpx.Response:
        return await self.http.post(
            self.path, params=params, content=body, headers={"Content-Type": "text/xml"}
        )

    def open(self, response: httpx.Response) -> PassiveReply | None:
        """The decrypted passive reply, or None for an empty 200 (answer sent actively)."""
        if response.status_code != 200:
            raise AssertionError(f"callback answered {response.status_code}: {response.text}")
        if not response.content.strip():
            return None
        sealed = xmltodict.parse(response.text)["xml"]
        inner = self.crypto.decrypt_message(
            response.text, sealed["MsgSignature"], sealed["TimeStamp"], sealed["Nonce"]
        )
        fields = xmltodict.parse(inner)["xml"]
        return PassiveReply(
            to_user=fields["ToUserName"],
            from_user=fields["FromUserName"],
            msgtype=fields["MsgType"],
            content=fields.get("Content") or "",
        )

    async def ask(self, user: str, content: str, msg_id: str | None = None) -> PassiveReply | None:
        return self.open(await self.post(self.text_xml(user, content, msg_id)))
