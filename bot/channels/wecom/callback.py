"""WeCom's callback protocol: signatures, AES crypto, replayed timestamps and the 5 s rule.

``GET /wecom`` answers WeCom's URL verification (signature checked, echostr decrypted);
``POST /wecom`` carries encrypted XML messages. Crypto and XML are wechatpy's (``WeChatCrypto``,
``parse_message``, ``create_reply``). A wrong signature or receive id gets 403 and no processing;
a timestamp outside ``WECOM_TIMESTAMP_WINDOW_SECONDS`` (a replayed capture) 403; malformed input
400; oversized bodies 413; never a traceback.

WeCom waits 5 seconds for the callback, then retries up to three times. The budget starts when
the request arrives: if the answer (or even recording the message, when the database is slow) is
not ready by then, the callback answers an empty 200 and the answer goes out through message/send.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import struct
import time
from collections.abc import Callable
from typing import Any
from xml.parsers.expat import ExpatError

import xmltodict
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from wechatpy.enterprise import parse_message
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.enterprise.replies import create_reply
from wechatpy.exceptions import InvalidSignatureException

from bot.delivery import Delivery, Inbound
from bot.delivery.store import utc_now

log = logging.getLogger(__name__)

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
# without message/send, an answer waits this long for a retried callback to carry it
HOLD_FOR_RETRIES = 60.0


class CallbackError(Exception):
    """A callback that must not be processed; ``status`` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason

    def response(self) -> Response:
        return PlainTextResponse(self.reason, status_code=self.status)


def empty() -> Response:
    """WeCom's "received, nothing to say now": an empty 200."""
    return Response(content=b"", status_code=200)


class CallbackCrypto:
    """Opens and seals WeCom callbacks for one corp (its token, EncodingAESKey and corp id)."""

    def __init__(
        self,
        token: str,
        aes_key: str,
        corp_id: str,
        *,
        max_body_bytes: int,
        window_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        try:
            self._crypto = WeChatCrypto(token, aes_key, corp_id)
        except (ValueError, AssertionError):
            raise ValueError("WECOM_AES_KEY must be the 43-character EncodingAESKey") from None
        self._corp_id = corp_id
        self._max_body = max_body_bytes
        self._window = window_seconds
        self._clock = clock

    def verify_url(self, request: Request) -> Response:
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
            return error.response()
        return PlainTextResponse(plain)

    async def open(self, request: Request) -> tuple[dict[str, Any], Any, str]:
        """The message's raw fields, the wechatpy message (to address the reply) and the nonce.

        Envelope -> signature -> decryption (with receive id) -> message; then the timestamp,
        which is signed, so a replayed capture cannot renew it.
        """
        signature, timestamp, nonce = _required(request, "msg_signature", "timestamp", "nonce")
        body = await self._read_body(request)
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
            data, message = xmltodict.parse(xml)["xml"], parse_message(xml)
        except _UNREADABLE:
            raise CallbackError(400, "decrypted message is not WeCom message XML") from None
        if not isinstance(data, dict):
            raise CallbackError(400, "decrypted message is not WeCom message XML")
        self._check_timestamp(timestamp)
        return data, message, nonce

    def seal(self, text: str, message: Any, nonce: str) -> Response:
        """The passive text reply, encrypted (wechatpy renders and encrypts; 32-byte PKCS#7)."""
        reply = create_reply(text.replace("]]>", "]] >"), message)
        reply.source = self._corp_id
        encrypted = self._crypto.encrypt_message(reply.render(), nonce, str(int(time.time())))
        return Response(content=encrypted, media_type="application/xml")

    def _check_timestamp(self, timestamp: str) -> None:
        try:
            sent_at = int(timestamp)
        except ValueError:
            raise CallbackError(400, "timestamp is not a number") from None
        if abs(self._clock() - sent_at) > self._window:
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


def _required(request: Request, *names: str) -> list[str]:
    values = [request.query_params.get(name) for name in names]
    missing = [name for name, value in zip(names, values, strict=True) if not value]
    if missing:
        raise CallbackError(400, f"missing query parameter(s): {', '.join(missing)}")
    return [value for value in values if value]


async def answer_within(
    delivery: Delivery,
    inbound: Inbound,
    deadline: dt.datetime,
    *,
    key: str,
    can_send: bool,
    recording: set[asyncio.Task[Any]],
) -> str | None:
    """The passive text if the answer is ready by ``deadline``, "" when it is sent later.

    ``None`` when nothing can send it later (no message/send): WeCom should retry. A submit
    that outlives the callback stays in ``recording`` so that shutdown can wait for it; ``key``
    names the message in logs.
    """
    task = asyncio.create_task(delivery.submit(inbound))
    recording.add(task)
    task.add_done_callback(recording.discard)
    remaining = (deadline - utc_now()).total_seconds()
    done, _ = await asyncio.wait({task}, timeout=max(remaining, 0))
    if not done:  # the database is slow: the row is written later, and answered actively
        log.warning("WeCom %s: not even recorded in time; answering later", key)
        return "" if can_send else None
    ticket = task.result()
    if ticket is None:
        return ""
    if not ticket.created:
        log.info("WeCom retry of %s", key)
    text = await delivery.passive(ticket, deadline, release=can_send)
    if text is None:
        return "" if can_send else None
    return text
