"""Telegram's wire: PTB's ``Application`` wired for this bot, the webhook endpoint, sending with
Bot API errors mapped to retryable or not, retries of requests that never left, and secrets kept
out of every log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import json
import logging
import warnings
from collections.abc import Callable, Coroutine
from json import JSONDecodeError
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    ReplyParameters,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.channels.telegram.config import TelegramConfig
from bot.delivery import DeliveryError

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
_MEDIA = (
    filters.Sticker.ALL
    | filters.PHOTO
    | filters.VOICE
    | filters.AUDIO
    | filters.VIDEO
    | filters.VIDEO_NOTE
    | filters.ANIMATION
    | filters.Document.ALL
    | filters.CONTACT
    | filters.LOCATION
)
Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


def derived_webhook_secret(token: str) -> str:
    """A stable webhook secret when none is configured: a keyed hash of the bot token.

    Only [A-Za-z0-9_-] are allowed by Telegram; hex qualifies. Someone who can see the secret
    header still cannot recover the token from it.
    """
    return hmac.new(token.encode("utf-8"), b"policybot-telegram-webhook", "sha256").hexdigest()


class RetryingRequest(HTTPXRequest):
    """HTTPXRequest that retries requests which never reached Telegram (connection failed).

    A request that may have arrived (a read timeout, a dropped response) is not repeated, so a
    message is never sent twice; RetryAfter is the outbox's business.
    """

    def __init__(self, *, retries: int, retry_seconds: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._retries = retries
        self._retry_seconds = retry_seconds

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        for attempt in range(self._retries + 1):
            try:
                return await super().do_request(*args, **kwargs)
            except (NetworkError, TimedOut) as error:
                never_sent = isinstance(
                    error.__cause__, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
                )
                if not never_sent or attempt == self._retries:
                    raise
                cause = type(error.__cause__).__name__
                logger.warning("Telegram unreachable (%s), retrying", cause)
                await asyncio.sleep(self._retry_seconds * 2**attempt)
        raise AssertionError("unreachable")  # the loop always returns or raises


class SecretRedactingFilter(logging.Filter):
    """Replaces secrets (the bot token, the webhook secret) in log records of any level.

    Bot API URLs carry the token in their path; PTB logs setWebhook's parameters (the secret
    token among them) at DEBUG.
    """

    def __init__(self, secrets: dict[str, str]) -> None:
        super().__init__()
        self._secrets = {secret: name for secret, name in secrets.items() if secret}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self._secrets):
            for secret, name in self._secrets.items():
                message = message.replace(secret, f"<{name}>")
            record.msg, record.args = message, None
        return True


TokenRedactingFilter = SecretRedactingFilter  # the older name
_SECRET_LOGGERS = ("telegram", "telegram.Bot", "telegram.ext", "telegram.ext.Updater")
_OWN_LOGGERS = ("bot.channels.telegram", __name__, "bot.channels.telegram.channel")


def protect_token_in_logs(
    token: str, webhook_secret: str | None = None, *, quiet_httpx: bool = False
) -> None:
    """Redact the secrets in every log line, DEBUG included (``serve`` also quiets httpx)."""
    if quiet_httpx:
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.WARNING)
    redactor = SecretRedactingFilter(
        {token: "TELEGRAM_BOT_TOKEN", webhook_secret or "": "TELEGRAM_WEBHOOK_SECRET"}
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
    for name in (*_SECRET_LOGGERS, "httpx", "httpcore", *_OWN_LOGGERS):
        logging.getLogger(name).addFilter(redactor)


def build_application(
    token: str,
    base_url: str,
    config: TelegramConfig,
    *,
    rate_limited: bool,
    polling: bool,
    on_text: Handler,
    on_media: Handler,
    on_button: Handler,
) -> Application:
    """PTB's Application: retrying requests, the rate limiter, an updater only when polling.

    Text (commands included, new or edited) goes to ``on_text``, files and other media to
    ``on_media``, button presses to ``on_button``; a failing handler is answered briefly.
    """
    base_url = base_url.rstrip("/")
    file_url = base_url[: -len("bot")] + "file/bot" if base_url.endswith("bot") else base_url
    retries, retry_seconds = config.network_retries, config.network_retry_seconds
    request = RetryingRequest(
        retries=retries,
        retry_seconds=retry_seconds,
        connection_pool_size=64,
        connect_timeout=5.0,
        read_timeout=15.0,
        write_timeout=15.0,
        pool_timeout=5.0,
    )
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(base_url)
        .base_file_url(file_url)
        .request(request)
        .get_updates_request(
            RetryingRequest(
                retries=retries,
                retry_seconds=retry_seconds,
                connection_pool_size=2,
                connect_timeout=5.0,
            )
        )
        .concurrent_updates(True)  # handlers only translate; bot.delivery keeps the order
    )
    if rate_limited:  # RetryAfter is not retried here: the outbox retries it, durably
        limiter = AIORateLimiter(
            overall_max_rate=config.overall_per_second,
            group_max_rate=config.group_per_minute,
            max_retries=0,
        )
        # PTB types the builder for a limiter without per-call arguments; AIORateLimiter takes
        # optional ones, which is what the builder calls it with
        builder = builder.rate_limiter(limiter)  # type: ignore[arg-type]
    if not polling:
        builder = builder.updater(None)  # updates arrive through the webhook route
    application = builder.build()
    messages = filters.UpdateType.MESSAGES
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_handler(MessageHandler(messages & filters.TEXT, on_text))
    application.add_handler(MessageHandler(messages & _MEDIA, on_media))
    application.add_error_handler(_apology(config.texts["error"]))
    return application


def _apology(text: str) -> Callable[[object, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]:
    """Log a failed update for operators; tell the person briefly, never with the stack."""

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        logger.error("Telegram update failed: %r", context.error, exc_info=context.error)
        if not isinstance(update, Update):
            return
        if update.callback_query is not None:
            with contextlib.suppress(TelegramError):  # it may have been answered already
                await update.callback_query.answer()
        if update.effective_chat is not None:
            with contextlib.suppress(TelegramError):
                await context.bot.send_message(update.effective_chat.id, text)

    return on_error


async def publish_commands(bot: Bot, commands: dict[str, str]) -> None:
    """The command menu; a missing menu is no reason not to answer people."""
    try:
        await bot.set_my_commands([BotCommand(name, text) for name, text in commands.items()])
    except TelegramError as error:
        logger.warning("Telegram: could not set the command menu: %s", error)


async def listen(
    application: Application, *, webhook_url: str | None, secret: str, poll_timeout: int
) -> None:
    """Start fetching updates: register the webhook, or poll getUpdates."""
    await application.start()
    if webhook_url:
        await application.bot.set_webhook(
            webhook_url, secret_token=secret, allowed_updates=ALLOWED_UPDATES
        )
        logger.info("Telegram: webhook registered")
    elif application.updater is not None:
        await application.updater.start_polling(
            timeout=poll_timeout,
            allowed_updates=ALLOWED_UPDATES,
            error_callback=lambda error: logger.warning("Telegram polling: %s", error),
        )
        logger.info("Telegram: polling as @%s", application.bot.username)


async def stop_fetching(application: Application, bound: float) -> None:
    updater = application.updater
    with contextlib.suppress(Exception):
        if updater is not None and updater.running:
            await asyncio.wait_for(updater.stop(), bound)


async def close(application: Application, bound: float) -> None:
    with contextlib.suppress(Exception):
        if application.running:
            await asyncio.wait_for(application.stop(), bound)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(application.shutdown(), bound)


class WebhookEndpoint:
    """``POST /telegram``: check the secret header and the size, then queue the update."""

    def __init__(self, application: Application, secret: str, max_body_bytes: int) -> None:
        self._application = application
        self._secret = secret.encode("utf-8")
        self._limit = max_body_bytes

    async def handle(self, request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode("utf-8"), self._secret):
            return Response("forbidden", status_code=403)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._limit:
            return Response("update too large", status_code=413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > self._limit:
                return Response("update too large", status_code=413)
        try:
            payload = json.loads(body)
            if not isinstance(payload, dict):
                raise ValueError("an update is a JSON object")
            update = Update.de_json(payload, self._application.bot)
        except (JSONDecodeError, UnicodeDecodeError, ValueError, KeyError, TypeError):
            return Response("bad update", status_code=400)
        await self._application.update_queue.put(update)
        return Response(status_code=200)


async def send_html(bot: Bot, chat_id: int, message: dict[str, Any]) -> None:
    """sendMessage; network errors, 5xx and 429 are retryable, other refusals are final."""
    quote = message.get("reply_to")
    keyboard = message.get("keyboard")
    try:
        await bot.send_message(
            chat_id,
            message["html"],
            parse_mode=ParseMode.HTML,
            reply_markup=InlineKeyboardMarkup.de_json(keyboard, None) if keyboard else None,
            reply_parameters=(
                ReplyParameters(quote, allow_sending_without_reply=True) if quote else None
            ),
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )
    except RetryAfter as error:
        raise DeliveryError(str(error), retryable=True, retry_after=_seconds(error)) from None
    except (NetworkError, TimedOut) as error:  # PTB reports 5xx as NetworkError
        raise DeliveryError(str(error), retryable=True) from None
    except TelegramError as error:  # blocked, chat gone, bad request: retrying won't help
        raise DeliveryError(str(error), retryable=False) from None


def _seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22.2 warns that it becomes a timedelta later
        warnings.simplefilter("ignore")
        retry_after = error.retry_after
    if isinstance(retry_after, dt.timedelta):
        return retry_after.total_seconds()
    return float(retry_after)
