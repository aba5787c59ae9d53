"""The WeCom (企业微信) channel: a self-built app's (自建应用) message callback and message/send.

The callback protocol (signatures, crypto, timestamps, the 5 s rule) is ``callback``'s; this
module translates. Each message is recorded in the outbox (``bot.delivery``) under (user, MsgId),
so a retry - even on another process - never gets a second answer, and another user's reused
MsgId is a different message. Answers go back in the callback when ready in time, otherwise
through message/send (``api``), retried until WeCom accepts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.channels import DialogueHandler
from bot.channels.wecom.api import WeComApi, WeComApiError, api_from_settings
from bot.channels.wecom.callback import (
    HOLD_FOR_RETRIES,
    CallbackCrypto,
    CallbackError,
    answer_within,
    empty,
)
from bot.channels.wecom.render import WeComRenderer, load_config
from bot.delivery import Delivery, DeliveryError, Inbound
from bot.delivery.store import utc_now
from bot.settings import Settings
from bot.types import Attachment, Reply

log = logging.getLogger(__name__)

CHANNEL = "wecom"
# WeCom errcodes worth another try: system busy, frequency limits, HTTP/network failures (-1)
RETRYABLE_ERRCODES = frozenset({-1, 45009, 45011, 45033, 45047})


@dataclass(frozen=True, slots=True)
class Message:
    """What a verified WeCom message asks for: text for the core, a reply made here, or neither."""

    key: str
    user_id: str
    text: str | None = None  # text for the dialogue core; None when ``reply`` says it all
    reply: Reply | None = None  # a hint made here, or None (no reply for this event)
    attachment: Attachment | None = None  # an admin's file, fetched through the media API


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
        self._config = config = config or load_config()
        limits = config["delivery"]
        self._settings = settings
        token, aes_key = settings.wecom_token, settings.wecom_aes_key
        if token is None or aes_key is None:  # wecom_enabled says they are set; for the typer
            raise ValueError("WeCom needs WECOM_TOKEN and WECOM_AES_KEY")
        self._crypto = CallbackCrypto(
            token.get_secret_value(),
            aes_key.get_secret_value(),
            str(settings.wecom_corp_id),
            max_body_bytes=int(limits["max_body_bytes"]),
            window_seconds=settings.wecom_timestamp_window_seconds,
            clock=clock,
        )
        self._owns_delivery = delivery is None
        self._engine: Engine | None = None
        if delivery is None:
            if engine is None:
                from bot.db import make_engine

                engine = self._engine = make_engine(settings.database_url)
            delivery = Delivery(dialogue, engine, settings)
        self.delivery = delivery
        self._api = api if api is not None else api_from_settings(settings)
        self._renderer = renderer or WeComRenderer(config)
        self._budget = float(
            limits["reply_budget_seconds"] if reply_budget_seconds is None else reply_budget_seconds
        )
        self._wait_without_api = float(limits["wait_without_api_seconds"])
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

    # ---- the callback ------------------------------------------------------------------------

    async def verify_url(self, request: Request) -> Response:
        """GET: WeCom's URL verification."""
        return self._crypto.verify_url(request)

    async def receive(self, request: Request) -> Response:
        """POST: one encrypted callback: verify, decrypt, record, answer (passively or later)."""
        deadline = utc_now() + dt.timedelta(seconds=self._budget)  # the 5 s rule starts now
        try:
            data, wechatpy_message, nonce = await self._crypto.open(request)
            message = self._translate(data)
        except CallbackError as error:
            log.warning("WeCom callback refused (%s): %s", error.status, error.reason)
            return error.response()
        try:
            if message.text is None:  # a hint made here, or an event that needs nothing
                if message.reply is None:
                    return empty()
                hint = self._renderer.passive(message.reply, can_send_rest=False).text
                return self._crypto.seal(hint, wechatpy_message, nonce)
            can_send = self._api is not None
            if not can_send:  # nobody can send later: hold the answer for WeCom's retries
                deadline = utc_now() + dt.timedelta(seconds=self._wait_without_api)
            hold = deadline + dt.timedelta(seconds=0 if can_send else HOLD_FOR_RETRIES)
            text = await answer_within(
                self.delivery,
                self._inbound(message, hold),
                deadline,
                key=message.key,
                can_send=can_send,
                recording=self._recording,
            )
            if text is None:
                return Response(status_code=503)  # nothing can send it later: WeCom retries
            return self._crypto.seal(text, wechatpy_message, nonce) if text else empty()
        except Exception:  # a bug: a 500 makes WeCom retry, no traceback shown
            log.exception("WeCom callback %s failed", message.key)
            return PlainTextResponse("internal error", status_code=500)

    # ---- translation -------------------------------------------------------------------------

    def _inbound(self, message: Message, hold_until: dt.datetime) -> Inbound:
        return Inbound(
            channel=CHANNEL,
            user_id=message.user_id,
            session_id=f"{CHANNEL}:{message.user_id}",
            text=message.text or "",
            address={"user_id": message.user_id},
            dedupe_key=f"{CHANNEL}:{message.user_id}:{message.key}",
            attachment=message.attachment,
            hold_until=hold_until,
        )

    def _translate(self, data: dict[str, Any]) -> Message:
        """What a parsed message asks for: a question, the greeting, a hint, or nothing."""
        user_id = data.get("FromUserName")
        msg_type = str(data.get("MsgType") or "").lower()
        if not isinstance(user_id, str) or not user_id or not msg_type:
            raise CallbackError(400, "message without FromUserName or MsgType")
        if msg_type == "event":
            event = str(data.get("Event") or "").lower()
            key = f"event:{user_id}:{data.get('CreateTime', '')}:{event}"
            events = self._config["events"]
            greeting = events["greeting_command"] if event in events["greet"] else None
            return Message(key, user_id, greeting)
        msg_id = data.get("MsgId")
        if not msg_id:
            raise CallbackError(400, "message without MsgId")
        key = f"msg:{msg_id}"
        if msg_type == "text":
            return Message(key, user_id, str(data.get("Content") or ""))
        if msg_type == "file" and (attachment := self._attachment(data, user_id)) is not None:
            return Message(key, user_id, "", attachment=attachment)
        recognised = data.get("Recognition") if msg_type == "voice" else None
        if isinstance(recognised, str) and recognised.strip():  # WeCom's own speech-to-text
            return Message(key, user_id, recognised)
        hints = self._config["hints"]
        hint = Reply(text=[hints.get(msg_type, hints["default"])], kind="hint")
        return Message(key, user_id, reply=hint)

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
            "messages": [m.as_dict() for m in self._renderer.active(reply)],
            "passive": fitted.text,
            "rest": [m.as_dict() for m in rest],
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


def wecom_routes(dialogue: DialogueHandler, settings: Settings) -> list[Route]:
    """GET and POST ``/wecom`` for ``policybot serve`` (see :class:`WeComChannel` for hooks)."""
    return WeComChannel(dialogue, settings).routes
