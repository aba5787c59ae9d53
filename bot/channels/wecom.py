"""The WeCom (企业微信) channel: a self-built app's (自建应用) message callback.

``GET /wecom`` answers WeCom's URL verification (signature checked, echostr decrypted);
``POST /wecom`` takes encrypted XML messages. Crypto and XML are wechatpy's
(``WeChatCrypto``, ``parse_message``, ``TextReply``). A wrong signature or receive id gets 403
and no processing; malformed input 400; oversized bodies 413; never a traceback.

WeCom waits 5 seconds for the callback, then retries up to three times, and only HTTP 200
counts. Every message is therefore claimed once in the ``wecom_delivery`` table (key: MsgId;
for events FromUserName + CreateTime + Event) and its outcome kept there, so a retry - even one
landing on another process - gets the same passive reply, or an empty 200 when the answer went
out through message/send, and never a second answer. The choice between the two is one
conditional UPDATE (pending -> answered, or pending -> deferred): whichever happens first wins.

Wiring (``policybot serve``)::

    channel = WeComChannel(dialogue, settings)
    app = Starlette(routes=[*channel.routes, ...], lifespan=...)  # startup()/shutdown()
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import struct
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any
from xml.parsers.expat import ExpatError

import xmltodict
from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from wechatpy.enterprise import parse_message
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.enterprise.replies import create_reply
from wechatpy.exceptions import InvalidSignatureException

from bot.channels import DialogueHandler
from bot.channels.wecom_api import WeComApi, WeComApiError
from bot.channels.wecom_render import ActiveMessage, WeComRenderer, load_config
from bot.channels.wecom_store import (
    ANSWERED,
    DEFERRED,
    FAILED,
    PENDING,
    SENT,
    Delivery,
    DeliveryStore,
    WeComDelivery,
)
from bot.settings import Settings
from bot.types import Attachment, Incoming, Reply

log = logging.getLogger(__name__)

CHANNEL = "wecom"
# what a corrupt (but correctly signed) ciphertext or XML can raise inside wechatpy/xmltodict
_UNREADABLE = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    struct.error,
    ExpatError,
)
_POLL_SECONDS = 0.05  # how often a retry on another process looks at the delivery row


# ---- callback parsing -----------------------------------------------------------------------


class CallbackError(Exception):
    """A callback that must not be processed; ``status`` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Inbound:
    """A verified, decrypted WeCom message and what to do with it."""

    key: str
    user_id: str
    message: Any  # the wechatpy message, used to address the passive reply
    text: str | None  # text for the dialogue core; None when ``reply`` says it all
    reply: Reply | None  # a reply made here (hints), or None (no reply for this event)
    attachment: Attachment | None = None  # an admin's file, fetched through the media API


def _required(request: Request, *names: str) -> list[str]:
    values = [request.query_params.get(name) for name in names]
    missing = [name for name, value in zip(names, values, strict=True) if not value]
    if missing:
        raise CallbackError(400, f"missing query parameter(s): {', '.join(missing)}")
    return [value for value in values if value]


# ---- the channel ----------------------------------------------------------------------------


class WeComChannel:
    """The WeCom callback: routes for ``policybot serve`` plus startup/shutdown hooks."""

    def __init__(
        self,
        dialogue: DialogueHandler,
        settings: Settings,
        *,
        engine: Engine | None = None,
        api: WeComApi | None = None,
        renderer: WeComRenderer | None = None,
        reply_budget_seconds: float | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        if not settings.wecom_enabled:
            raise ValueError("WeCom needs WECOM_CORP_ID, WECOM_TOKEN and WECOM_AES_KEY")
        config = config or load_config()
        delivery = config["delivery"]
        self._config = config
        self._dialogue = dialogue
        self._settings = settings
        self._corp_id = str(settings.wecom_corp_id)
        token, aes_key = settings.wecom_token, settings.wecom_aes_key
        if token is None or aes_key is None:  # wecom_enabled says they are set; for the typer
            raise ValueError("WeCom needs WECOM_TOKEN and WECOM_AES_KEY")
        try:
            self._crypto = WeChatCrypto(
                token.get_secret_value(), aes_key.get_secret_value(), self._corp_id
            )
        except (ValueError, AssertionError):
            raise ValueError("WECOM_AES_KEY must be the 43-character EncodingAESKey") from None
        self._owns_engine = engine is None
        if engine is None:
            from bot.db import make_engine

            engine = make_engine(settings.database_url)
        self._store = DeliveryStore(engine)
        self._store.create_table()
        self._api = api if api is not None else _api_from_settings(settings)
        self._renderer = renderer or WeComRenderer(config)
        self._budget = float(
            delivery["reply_budget_seconds"]
            if reply_budget_seconds is None
            else reply_budget_seconds
        )
        self._wait_without_api = float(delivery["wait_without_api_seconds"])
        self._max_body = int(delivery["max_body_bytes"])
        self._retention = dt.timedelta(hours=float(delivery["retention_hours"]))
        self._cleanup_interval = float(delivery["cleanup_interval_seconds"])
        self._last_cleanup = -float("inf")
        self._answered: dict[str, asyncio.Event] = {}  # key -> set when its answer is settled
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- wiring ------------------------------------------------------------------------------

    @property
    def routes(self) -> list[Route]:
        return [
            Route("/wecom", self.verify_url, methods=["GET"]),
            Route("/wecom", self.receive, methods=["POST"]),
        ]

    async def startup(self) -> None:
        """Forget old deliveries; the table itself is created at construction."""
        await self._purge()

    async def shutdown(self, *, grace_seconds: float = 10.0) -> None:
        """Let answers under way reach their users (within a grace period), then close."""
        try:
            await asyncio.wait_for(self.drain(), grace_seconds)
        except TimeoutError:
            log.warning("WeCom: %d answers still under way at shutdown", len(self._tasks))
        if self._api is not None:
            await self._api.aclose()
        if self._owns_engine:
            self._store.engine.dispose()

    async def drain(self) -> None:
        """Wait until every answer under way (including active sends) is delivered."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ---- GET: URL verification ---------------------------------------------------------------

    async def verify_url(self, request: Request) -> Response:
        """WeCom's URL check: a valid signature over echostr gets the decrypted echostr back."""
        try:
            signature, timestamp, nonce, echostr = _required(
                request, "msg_signature", "timestamp", "nonce", "echostr"
            )
            # a '+' of base64 that was not URL-encoded arrives as a space
            echostr = echostr.replace(" ", "+")
            try:
                plain = self._crypto.check_signature(signature, timestamp, nonce, echostr)
            except (InvalidSignatureException, InvalidCorpIdException):
                raise CallbackError(403, "signature or receive id does not match") from None
            except _UNREADABLE:
                raise CallbackError(400, "echostr cannot be decrypted") from None
        except CallbackError as error:
            log.warning("WeCom URL verification refused (%s): %s", error.status, error.reason)
            return PlainTextResponse(error.reason, status_code=error.status)
        return PlainTextResponse(plain)

    # ---- POST: messages ----------------------------------------------------------------------

    async def receive(self, request: Request) -> Response:
        """One encrypted callback: verify, decrypt, claim, answer (passively or later)."""
        started = time.monotonic()
        try:
            signature, timestamp, nonce = _required(request, "msg_signature", "timestamp", "nonce")
            body = await self._read_body(request)
            inbound = self._open(body, signature, timestamp, nonce)
        except CallbackError as error:
            log.warning("WeCom callback refused (%s): %s", error.status, error.reason)
            return PlainTextResponse(error.reason, status_code=error.status)
        try:
            self._maybe_purge()
            text = await self._outcome(inbound, deadline=started + self._budget)
            if text is None:
                return Response(status_code=503)  # not ready, nothing can send later: retry
            if not text:
                return Response(content=b"", status_code=200)
            return self._passive_response(inbound, text, nonce)
        except Exception:  # storage down or a bug: a 500 makes WeCom retry, no traceback shown
            log.exception("WeCom callback %s failed", inbound.key)
            return PlainTextResponse("internal error", status_code=500)

    async def _read_body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_body:
            raise CallbackError(413, f"body larger than {self._max_body} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > self._max_body:
                raise CallbackError(413, f"body larger than {self._max_body} bytes")
        if not body.strip():
            raise CallbackError(400, "empty body")
        return bytes(body)

    def _open(self, body: bytes, signature: str, timestamp: str, nonce: str) -> Inbound:
        """Envelope -> signature -> decryption (with receive id) -> message -> what to do."""
        try:
            envelope = xmltodict.parse(body)["xml"]
            encrypted = envelope["Encrypt"]
            if not isinstance(encrypted, str) or not encrypted.strip():
                raise TypeError("no Encrypt text")
        except _UNREADABLE:
            raise CallbackError(400, "body is not a WeCom encrypted XML envelope") from None
        try:
            xml = self._crypto.decrypt_message({"Encrypt": encrypted}, signature, timestamp, nonce)
        except InvalidSignatureException:
            raise CallbackError(403, "signature does not match") from None
        except InvalidCorpIdException:
            raise CallbackError(403, "receive id is not our corp id") from None
        except _UNREADABLE:
            raise CallbackError(400, "Encrypt cannot be decrypted") from None
        try:
            # the raw fields for routing (MsgType "file" has no wechatpy class), the wechatpy
            # message for addressing the reply
            data = xmltodict.parse(xml)["xml"]
            message = parse_message(xml)
            return self._inbound(data, message)
        except _UNREADABLE:
            raise CallbackError(400, "decrypted message is not WeCom message XML") from None

    def _inbound(self, data: dict[str, Any], message: Any) -> Inbound:
        """What a parsed message asks for: a question, the greeting, a hint, or nothing."""
        user_id = data.get("FromUserName")
        msg_type = str(data.get("MsgType") or "").lower()
        if not isinstance(user_id, str) or not user_id or not msg_type:
            raise CallbackError(400, "message without FromUserName or MsgType")
        if msg_type == "event":
            event = str(data.get("Event") or "").lower()
            key = f"event:{user_id}:{data.get('CreateTime', '')}:{event}"
            events = self._config["events"]
            if event in events["greet"]:
                return Inbound(key, user_id, message, events["greeting_command"], None)
            return Inbound(key, user_id, message, None, None)
        msg_id = data.get("MsgId")
        if not msg_id:
            raise CallbackError(400, "message without MsgId")
        key = f"msg:{msg_id}"
        if msg_type == "text":
            return Inbound(key, user_id, message, str(data.get("Content") or ""), None)
        if msg_type == "file" and (attachment := self._attachment(data, user_id)) is not None:
            return Inbound(key, user_id, message, "", None, attachment)
        recognised = data.get("Recognition") if msg_type == "voice" else None
        if isinstance(recognised, str) and recognised.strip():  # WeCom's own speech-to-text
            return Inbound(key, user_id, message, recognised, None)
        hints = self._config["hints"]
        hint = Reply(text=[hints.get(msg_type, hints["default"])], kind="hint")
        return Inbound(key, user_id, message, None, hint)

    def _attachment(self, data: dict[str, Any], user_id: str) -> Attachment | None:
        """An admin's file message as the core's attachment, downloaded through media/get.

        Files of other people are never downloaded: they get the usual hint, as before.
        """
        media_id = data.get("MediaId")
        api = self._api
        if api is None or user_id not in self._settings.wecom_admin_ids or not media_id:
            return None
        name = str(data.get("FileName") or data.get("Title") or media_id)
        declared = str(data.get("FileSize") or "")

        async def fetch() -> bytes:
            return await api.media(str(media_id))

        return Attachment(name, fetch=fetch, size=int(declared) if declared.isdigit() else None)

    # ---- delivery ----------------------------------------------------------------------------

    async def _outcome(self, inbound: Inbound, *, deadline: float) -> str | None:
        """The passive text for this callback: the answer, "" (none / sent actively), or None.

        None means "not ready, and nothing can send it later": the caller answers 503 so that
        WeCom retries, and the retry finds the stored answer.
        """
        existing = await asyncio.to_thread(self._store.claim, inbound.key, inbound.user_id)
        if existing is None:
            settled = asyncio.Event()
            self._answered[inbound.key] = settled
            self._spawn(self._answer(inbound, settled))
        elif existing.status != PENDING:
            log.info("WeCom retry of %s (%s)", inbound.key, existing.status)
            return (existing.passive_text or "") if existing.status == ANSWERED else ""
        if self._api is None:  # nobody can send later: wait as long as WeCom does
            deadline = max(deadline, time.monotonic() + self._wait_without_api)
        await self._wait_settled(inbound.key, deadline)
        current = await asyncio.to_thread(self._store.get, inbound.key)
        if current is not None and current.status == PENDING:
            if self._api is None:
                return None
            if await asyncio.to_thread(
                self._store.transition, inbound.key, from_status=PENDING, to_status=DEFERRED
            ):
                log.info("WeCom %s not ready in time: answering through message/send", inbound.key)
                return ""
            current = await asyncio.to_thread(self._store.get, inbound.key)
        if current is not None and current.status == ANSWERED:
            return current.passive_text or ""
        return ""

    async def _wait_settled(self, key: str, deadline: float) -> None:
        """Until the answer to ``key`` is settled or the deadline passes (local or elsewhere)."""
        settled = self._answered.get(key)
        if settled is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(settled.wait(), max(deadline - time.monotonic(), 0))
            return
        while time.monotonic() < deadline:  # being answered by another process
            current = await asyncio.to_thread(self._store.get, key)
            if current is None or current.status != PENDING:
                return
            await asyncio.sleep(min(_POLL_SECONDS, max(deadline - time.monotonic(), 0)))

    def _spawn(self, work: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, inbound: Inbound, settled: asyncio.Event) -> None:
        """Answer once; the passive reply if still wanted, otherwise through message/send."""
        try:
            reply = await self._reply_for(inbound)
            if reply is None:
                await asyncio.to_thread(
                    self._store.transition,
                    inbound.key,
                    from_status=PENDING,
                    to_status=ANSWERED,
                    text="",
                )
                return
            fitted = self._renderer.passive(reply, can_send_rest=self._api is not None)
            if await asyncio.to_thread(
                self._store.transition,
                inbound.key,
                from_status=PENDING,
                to_status=ANSWERED,
                text=fitted.text,
            ):
                settled.set()
                if fitted.overflow is not None:
                    await self._send(inbound.user_id, self._renderer.active(fitted.overflow))
                return
            # the callback gave up waiting (status deferred): the whole answer goes out actively
            sent = await self._send(inbound.user_id, self._renderer.active(reply))
            await asyncio.to_thread(
                self._store.transition,
                inbound.key,
                from_status=DEFERRED,
                to_status=SENT if sent else FAILED,
            )
        except Exception:
            log.exception("WeCom answer to %s failed", inbound.key)
        finally:
            settled.set()
            self._answered.pop(inbound.key, None)

    async def _reply_for(self, inbound: Inbound) -> Reply | None:
        if inbound.text is None:
            return inbound.reply
        incoming = Incoming(
            channel=CHANNEL,
            user_id=inbound.user_id,
            session_id=f"{CHANNEL}:{inbound.user_id}",
            text=inbound.text,
            is_admin=inbound.user_id in self._settings.wecom_admin_ids,
            attachment=inbound.attachment,
        )
        try:
            return await self._dialogue.handle(incoming)
        except Exception:  # the core never raises; if it ever does, the user still hears back
            log.exception("dialogue failed for WeCom %s", inbound.key)
            return Reply(text=[self._config["texts"]["error"]], kind="error")

    async def _send(self, user_id: str, messages: list[ActiveMessage]) -> bool:
        """message/send each message in order; False (and a log line) if WeCom refused one."""
        if self._api is None:
            log.warning("WeCom answer for %s dropped: WECOM_SECRET/WECOM_AGENT_ID not set", user_id)
            return False
        try:
            for message in messages:
                if message.msgtype == "markdown":
                    await self._api.send_markdown(user_id, message.content)
                else:
                    await self._api.send_text(user_id, message.content)
        except WeComApiError as error:
            log.warning("WeCom message/send to %s failed: %s", user_id, error)
            return False
        return True

    def _passive_response(self, inbound: Inbound, text: str, nonce: str) -> Response:
        """The passive text reply, encrypted (wechatpy renders and encrypts; 32-byte PKCS#7)."""
        reply = create_reply(text.replace("]]>", "]] >"), inbound.message)
        reply.source = self._corp_id
        encrypted = self._crypto.encrypt_message(reply.render(), nonce, str(int(time.time())))
        return Response(content=encrypted, media_type="application/xml")

    # ---- housekeeping ------------------------------------------------------------------------

    def _maybe_purge(self) -> None:
        if time.monotonic() - self._last_cleanup >= self._cleanup_interval:
            self._last_cleanup = time.monotonic()
            self._spawn(self._purge())

    async def _purge(self) -> None:
        self._last_cleanup = time.monotonic()
        try:
            removed = await asyncio.to_thread(self._store.purge, older_than=self._retention)
        except Exception:
            log.exception("WeCom delivery cleanup failed")
            return
        if removed:
            log.info("forgot %d old WeCom deliveries", removed)


def _api_from_settings(settings: Settings) -> WeComApi | None:
    """The message/send client, when WECOM_SECRET and WECOM_AGENT_ID are set."""
    secret = settings.wecom_secret
    agent_id = (settings.wecom_agent_id or "").strip()
    if secret is None or not secret.get_secret_value().strip() or not agent_id.isdigit():
        log.warning("WECOM_SECRET/WECOM_AGENT_ID not set: WeCom answers only passively")
        return None
    return WeComApi(
        base_url=settings.wecom_api_base,
        corp_id=str(settings.wecom_corp_id),
        secret=secret,
        agent_id=agent_id,
    )


def wecom_routes(dialogue: DialogueHandler, settings: Settings) -> list[Route]:
    """GET and POST ``/wecom`` for ``policybot serve`` (see :class:`WeComChannel` for hooks)."""
    return WeComChannel(dialogue, settings).routes


__all__ = [
    "Delivery",
    "DeliveryStore",
    "WeComChannel",
    "WeComDelivery",
    "wecom_routes",
]
