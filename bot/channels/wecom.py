"""The WeCom (企业微信) channel: a self-built app's (自建应用) message callback.

``GET /wecom`` answers WeCom's URL verification (signature checked, echostr decrypted);
``POST /wecom`` takes encrypted XML messages. Crypto and XML are wechatpy's
(``WeChatCrypto``, ``parse_message``, ``TextReply``). A wrong signature or receive id gets 403
and no processing; a timestamp outside ``WECOM_TIMESTAMP_WINDOW_SECONDS`` (a replayed capture)
403; malformed input 400; oversized bodies 413; never a traceback.

WeCom waits 5 seconds for the callback, then retries up to three times. Each message is recorded
in the outbox (``bot.delivery``) under (user, MsgId), so a retry - even on another process -
never gets a second answer, and another user's reused MsgId is a different message. The 5 s
budget starts when the request arrives: if the answer (or even recording the message, when the
database is slow) is not ready by then, the callback answers an empty 200 and the answer goes
out through message/send, retried until WeCom accepts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import struct
import time
from collections.abc import Callable
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
from bot.delivery import Delivery, DeliveryError
from bot.delivery import Inbound as Submitted
from bot.delivery.store import utc_now
from bot.settings import Settings
from bot.types import Attachment, Reply

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
# WeCom errcodes worth another try: system busy, frequency limits, HTTP/network failures (-1)
RETRYABLE_ERRCODES = frozenset({-1, 45009, 45011, 45033, 45047})
# without message/send, an answer waits this long for a retried callback to carry it
_HOLD_FOR_RETRIES = 60.0


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
    """The WeCom callback and message/send, translating to and from ``bot.delivery``."""

    name = CHANNEL

    def __init__(
        self,
        dialogue: DialogueHandler,
        settings: Settings,
        *,
        delivery: Delivery | None = None,
        engine: Engine | None = None,
        api: WeComApi | None = None,
        renderer: WeComRenderer | None = None,
        reply_budget_seconds: float | None = None,
        config: dict[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not settings.wecom_enabled:
            raise ValueError("WeCom needs WECOM_CORP_ID, WECOM_TOKEN and WECOM_AES_KEY")
        config = config or load_config()
        limits = config["delivery"]
        self._config = config
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
        self._owns_delivery = delivery is None
        self._engine: Engine | None = None
        if delivery is None:
            if engine is None:
                from bot.db import make_engine

                engine = self._engine = make_engine(settings.database_url)
            delivery = Delivery(dialogue, engine, settings)
        self.delivery = delivery
        self._api = api if api is not None else _api_from_settings(settings)
        self._renderer = renderer or WeComRenderer(config)
        self._budget = float(
            limits["reply_budget_seconds"] if reply_budget_seconds is None else reply_budget_seconds
        )
        self._wait_without_api = float(limits["wait_without_api_seconds"])
        self._max_body = int(limits["max_body_bytes"])
        self._clock = clock
        self._recording: set[asyncio.Task[Any]] = set()  # submits that outlived their callback
        delivery.register(self)

    # ---- lifecycle ---------------------------------------------------------------------------

    @property
    def routes(self) -> list[Route]:
        return [
            Route("/wecom", self.verify_url, methods=["GET"]),
            Route("/wecom", self.receive, methods=["POST"]),
        ]

    async def start(self) -> None:
        if self._owns_delivery:
            await self.delivery.start()

    async def stop(self) -> None:
        """Answers under way get the grace period; the rest stays in the outbox."""
        if self._recording:
            await asyncio.wait(self._recording, timeout=self._settings.shutdown_grace_seconds)
        if self._owns_delivery:
            await self.delivery.stop()
        if self._api is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._api.aclose(), 5)
        if self._engine is not None:
            self._engine.dispose()

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
            self._check_timestamp(timestamp)
        except CallbackError as error:
            log.warning("WeCom URL verification refused (%s): %s", error.status, error.reason)
            return PlainTextResponse(error.reason, status_code=error.status)
        return PlainTextResponse(plain)

    # ---- POST: messages ----------------------------------------------------------------------

    async def receive(self, request: Request) -> Response:
        """One encrypted callback: verify, decrypt, record, answer (passively or later)."""
        deadline = utc_now() + dt.timedelta(seconds=self._budget)  # the 5 s rule starts now
        try:
            signature, timestamp, nonce = _required(request, "msg_signature", "timestamp", "nonce")
            body = await self._read_body(request)
            inbound = self._open(body, signature, timestamp, nonce)
            self._check_timestamp(timestamp)  # signed, so a replayed capture cannot renew it
        except CallbackError as error:
            log.warning("WeCom callback refused (%s): %s", error.status, error.reason)
            return PlainTextResponse(error.reason, status_code=error.status)
        try:
            if inbound.text is None:  # a hint made here, or an event that needs nothing
                if inbound.reply is None:
                    return _EMPTY()
                text = self._renderer.passive(inbound.reply, can_send_rest=False).text
                return self._passive_response(inbound, text, nonce)
            text = await self._answer_within(inbound, deadline)
            if text is None:
                return Response(status_code=503)  # nothing can send it later: WeCom retries
            return self._passive_response(inbound, text, nonce) if text else _EMPTY()
        except Exception:  # a bug: a 500 makes WeCom retry, no traceback shown
            log.exception("WeCom callback %s failed", inbound.key)
            return PlainTextResponse("internal error", status_code=500)

    async def _answer_within(self, inbound: Inbound, deadline: dt.datetime) -> str | None:
        """The passive text if the answer is ready in time, "" when it is sent later."""
        can_send = self._api is not None
        if not can_send:  # nobody can send later: hold the answer for WeCom's retries
            deadline = utc_now() + dt.timedelta(seconds=self._wait_without_api)
        submitted = Submitted(
            channel=CHANNEL,
            user_id=inbound.user_id,
            session_id=f"{CHANNEL}:{inbound.user_id}",
            text=inbound.text or "",
            address={"user_id": inbound.user_id},
            dedupe_key=f"{CHANNEL}:{inbound.user_id}:{inbound.key}",
            attachment=inbound.attachment,
            hold_until=deadline + dt.timedelta(seconds=0 if can_send else _HOLD_FOR_RETRIES),
        )
        recording = asyncio.create_task(self.delivery.submit(submitted))
        self._recording.add(recording)
        recording.add_done_callback(self._recording.discard)
        remaining = (deadline - utc_now()).total_seconds()
        done, _ = await asyncio.wait({recording}, timeout=max(remaining, 0))
        if not done:  # the database is slow: the row is written later, and answered actively
            log.warning("WeCom %s: not even recorded in time; answering later", inbound.key)
            return "" if can_send else None
        ticket = recording.result()
        if ticket is None:
            return ""
        if not ticket.created:
            log.info("WeCom retry of %s", inbound.key)
        text = await self.delivery.passive(ticket, deadline, release=can_send)
        if text is None:
            return "" if can_send else None
        return text

    def _check_timestamp(self, timestamp: str) -> None:
        try:
            sent_at = int(timestamp)
        except ValueError:
            raise CallbackError(400, "timestamp is not a number") from None
        if abs(self._clock() - sent_at) > self._settings.wecom_timestamp_window_seconds:
            raise CallbackError(403, "timestamp outside the accepted window")

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

    # ---- the outlet -------------------------------------------------------------------------

    def render(self, reply: Reply, address: dict[str, Any]) -> dict[str, Any]:
        """The passive text (within 2048 bytes) and its overflow, or the whole answer to send."""
        fitted = self._renderer.passive(reply, can_send_rest=self._api is not None)
        rest = self._renderer.active(fitted.overflow) if fitted.overflow is not None else []
        return {
            "messages": [vars_of(m) for m in self._renderer.active(reply)],
            "passive": fitted.text,
            "rest": [vars_of(m) for m in rest],
        }

    async def deliver(self, address: dict[str, Any], message: dict[str, Any]) -> None:
        """message/send; busy and frequency limits (45009...) and network errors are retried."""
        if self._api is None:
            raise DeliveryError("WECOM_SECRET/WECOM_AGENT_ID not set", retryable=False)
        try:
            if message["msgtype"] == "markdown":
                await self._api.send_markdown(address["user_id"], message["content"])
            else:
                await self._api.send_text(address["user_id"], message["content"])
        except WeComApiError as error:
            raise DeliveryError(str(error), retryable=error.errcode in RETRYABLE_ERRCODES) from None

    async def working(self, address: dict[str, Any]) -> None:
        """WeCom shows no "typing…"."""

    def _passive_response(self, inbound: Inbound, text: str, nonce: str) -> Response:
        """The passive text reply, encrypted (wechatpy renders and encrypts; 32-byte PKCS#7)."""
        reply = create_reply(text.replace("]]>", "]] >"), inbound.message)
        reply.source = self._corp_id
        encrypted = self._crypto.encrypt_message(reply.render(), nonce, str(int(time.time())))
        return Response(content=encrypted, media_type="application/xml")


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


def vars_of(message: ActiveMessage) -> dict[str, str]:
    return {"msgtype": message.msgtype, "content": message.content}


def _EMPTY() -> Response:
    """WeCom's "received, nothing to say now": an empty 200."""
    return Response(content=b"", status_code=200)


__all__ = ["WeComChannel", "wecom_routes"]
