"""The Telegram channel: python-telegram-bot v22 translating to and from the dialogue core.

Every message, command and button press becomes an ``Inbound`` for ``bot.delivery`` (which
records it, queues it per session, answers it and sends the answer until Telegram accepts it);
every ``Reply`` is rendered as Telegram HTML (``telegram_render``) with its buttons as an inline
keyboard. The channel keeps callback data within Telegram's 64 bytes, answers in groups only when
addressed, and maps Bot API errors to retryable or not.

Usage (what ``policybot serve telegram`` does)::

    channel = TelegramChannel(dialogue, settings, delivery=delivery)
    await channel.start()   # polling, or setWebhook when TELEGRAM_WEBHOOK_URL is set
    ...                     # webhook mode: mount channel.routes in a starlette app
    await channel.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import tomllib
import unicodedata
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from json import JSONDecodeError
from pathlib import Path
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import (
    BotCommand,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ChatAction, ChatType, ParseMode
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

from bot.channels import DialogueHandler
from bot.channels.telegram_render import render_reply
from bot.delivery import Delivery, DeliveryError, Inbound
from bot.settings import Settings
from bot.types import Attachment, Button, Incoming, Reply

logger = logging.getLogger(__name__)

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "telegram.toml"
WEBHOOK_PATH = "/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
CALLBACK_DATA_BYTES = 64  # Telegram's limit on InlineKeyboardButton.callback_data
_KEY_PREFIX = "#"  # commands start with "/", so a key can never be mistaken for one
_FEEDBACK_PREFIX = "!"  # a feedback button: answered with a toast, not a message
_GROUP_CHATS = {ChatType.GROUP, ChatType.SUPERGROUP}
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


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    """The channel's own texts, command menu and limits (bot/data/telegram.toml)."""

    commands: dict[str, str]
    texts: dict[str, str]
    callback_max_keys: int
    keyboard_max_per_row: int
    keyboard_max_row_width: int
    message_chars: int
    overall_per_second: float
    group_per_minute: float
    network_retries: int
    network_retry_seconds: float
    typing_after_seconds: float

    @classmethod
    def load(cls, path: Path = DATA_FILE) -> TelegramConfig:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        keyboard, limits = data["keyboard"], data["limits"]
        return cls(
            commands=dict(data["commands"]),
            texts=dict(data["texts"]),
            callback_max_keys=int(data["callbacks"]["max_keys"]),
            keyboard_max_per_row=int(keyboard["max_per_row"]),
            keyboard_max_row_width=int(keyboard["max_row_width"]),
            message_chars=int(limits["message_chars"]),
            overall_per_second=float(limits["overall_per_second"]),
            group_per_minute=float(limits["group_per_minute"]),
            network_retries=int(limits["network_retries"]),
            network_retry_seconds=float(limits["network_retry_seconds"]),
            typing_after_seconds=float(limits["typing_after_seconds"]),
        )


class CallbackCodec:
    """Commands in and out of callback data, which Telegram caps at 64 bytes.

    A short command travels as it is (and so survives restarts); a longer one (a Chinese lookup
    name is 3 bytes a character) is kept under a short hash key in a bounded store. A key that
    is unknown (too old, or from before a restart) decodes to ``None``.
    """

    def __init__(self, max_keys: int = 50_000) -> None:
        self._max_keys = max_keys
        self._commands: OrderedDict[str, str] = OrderedDict()

    def encode(self, command: str) -> str:
        if len(command.encode("utf-8")) <= CALLBACK_DATA_BYTES and not command.startswith(
            _KEY_PREFIX
        ):
            return command
        key = _KEY_PREFIX + hashlib.blake2b(command.encode("utf-8"), digest_size=12).hexdigest()
        self._commands[key] = command
        self._commands.move_to_end(key)
        while len(self._commands) > self._max_keys:
            self._commands.popitem(last=False)
        return key

    def decode(self, data: str | None) -> str | None:
        if not data:
            return None
        if data.startswith(("/", _FEEDBACK_PREFIX)):
            return data
        return self._commands.get(data)


def document_attachment(message: Message) -> Attachment | None:
    """A Telegram document as the core's attachment: its name, declared size and download."""
    document = message.document
    if document is None:
        return None

    async def fetch() -> bytes:
        file = await document.get_file()
        return bytes(await file.download_as_bytearray())

    name = document.file_name or document.file_unique_id
    return Attachment(name=name, fetch=fetch, size=document.file_size)


def display_width(text: str) -> int:
    """Columns a label takes on a phone: wide (CJK, emoji) characters count 2."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def layout_rows(
    buttons: Sequence[Button], *, max_per_row: int, max_row_width: int
) -> list[list[Button]]:
    """Rows of buttons: one kind of action per row, packed by width."""
    rows: list[list[Button]] = []
    width = 0
    kind = None
    for button in buttons:
        button_kind = button.kind
        button_width = display_width(button.label) + 2
        if (
            not rows
            or button_kind != kind
            or len(rows[-1]) >= max_per_row
            or width + button_width > max_row_width
        ):
            rows.append([])
            width = 0
        rows[-1].append(button)
        width += button_width
        kind = button_kind
    return rows


def derived_webhook_secret(token: str) -> str:
    """A stable webhook secret when none is configured: a keyed hash of the bot token.

    Only [A-Za-z0-9_-] are allowed by Telegram; hex qualifies. Someone who can see the secret
    header still cannot recover the token from it.
    """
    return hmac.new(token.encode("utf-8"), b"policybot-telegram-webhook", "sha256").hexdigest()


class RetryingRequest(HTTPXRequest):
    """HTTPXRequest that retries requests which never reached Telegram (connection failed).

    A request that may have arrived (a read timeout, a dropped response) is not repeated, so a
    message is never sent twice; RetryAfter is the rate limiter's business.
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
    for name in (*_SECRET_LOGGERS, "httpx", "httpcore", __name__):
        logging.getLogger(name).addFilter(redactor)


class TelegramChannel:
    """One bot: PTB's ``Application``, its handlers, and the translation to and from the core."""

    name = "telegram"

    def __init__(
        self,
        dialogue: DialogueHandler,
        settings: Settings,
        *,
        delivery: Delivery | None = None,
        config: TelegramConfig | None = None,
        rate_limited: bool = True,
        poll_timeout: int = 10,
    ) -> None:
        if not settings.telegram_enabled or settings.telegram_bot_token is None:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        self._settings = settings
        self._config = config or TelegramConfig.load()
        self._token = settings.telegram_bot_token.get_secret_value().strip()
        self._owns_delivery = delivery is None
        if delivery is None:
            from bot.db import make_engine

            delivery = Delivery(dialogue, make_engine(settings.database_url), settings)
        self.delivery = delivery
        self._codec = CallbackCodec(self._config.callback_max_keys)
        self._poll_timeout = poll_timeout
        self.webhook_url = settings.telegram_webhook_url or None
        secret = settings.telegram_webhook_secret
        self.webhook_secret = (
            secret.get_secret_value() if secret else derived_webhook_secret(self._token)
        )
        protect_token_in_logs(self._token, self.webhook_secret)
        self.application = self._build_application(rate_limited=rate_limited)
        delivery.register(self)

    # ----------------------------------------------------------------- wiring
    def _build_application(self, *, rate_limited: bool) -> Application:
        config = self._config
        base_url = self._settings.telegram_base_url.rstrip("/")
        file_url = base_url[: -len("bot")] + "file/bot" if base_url.endswith("bot") else base_url
        retry = {"retries": config.network_retries, "retry_seconds": config.network_retry_seconds}
        builder = (
            ApplicationBuilder()
            .token(self._token)
            .base_url(base_url)
            .base_file_url(file_url)
            .request(
                RetryingRequest(
                    **retry,
                    connection_pool_size=64,
                    connect_timeout=5.0,
                    read_timeout=15.0,
                    write_timeout=15.0,
                    pool_timeout=5.0,
                )
            )
            .get_updates_request(
                RetryingRequest(**retry, connection_pool_size=2, connect_timeout=5.0)
            )
            .concurrent_updates(True)  # handlers only translate; bot.delivery keeps the order
        )
        if rate_limited:  # RetryAfter is not retried here: the outbox retries it, durably
            builder = builder.rate_limiter(
                AIORateLimiter(
                    overall_max_rate=config.overall_per_second,
                    group_max_rate=config.group_per_minute,
                    max_retries=0,
                )
            )
        if self.webhook_url:
            builder = builder.updater(None)  # updates arrive through routes, not getUpdates
        application = builder.build()
        messages = filters.UpdateType.MESSAGES
        application.add_handler(CallbackQueryHandler(self._on_button))
        application.add_handler(MessageHandler(messages & filters.TEXT, self._on_text))
        application.add_handler(MessageHandler(messages & _MEDIA, self._on_media))
        application.add_error_handler(self._on_error)
        return application

    async def start(self) -> None:
        """Connect (getMe), publish the command menu, then poll or register the webhook."""
        await self.application.initialize()
        await self._publish_commands()
        if self._owns_delivery:
            await self.delivery.start()
        await self.application.start()
        if self.webhook_url:
            await self.application.bot.set_webhook(
                self.webhook_url, secret_token=self.webhook_secret, allowed_updates=ALLOWED_UPDATES
            )
            logger.info("Telegram: webhook registered")
        elif self.application.updater is not None:
            await self.application.updater.start_polling(
                timeout=self._poll_timeout,
                allowed_updates=ALLOWED_UPDATES,
                error_callback=lambda error: logger.warning("Telegram polling: %s", error),
            )
            logger.info("Telegram: polling as @%s", self.application.bot.username)

    async def stop(self) -> None:
        """Stop fetching, finish answers within the grace period (the rest stays queued)."""
        bound = self._settings.shutdown_grace_seconds + 5
        updater = self.application.updater
        with contextlib.suppress(Exception):
            if updater is not None and updater.running:
                await asyncio.wait_for(updater.stop(), bound)
        if self._owns_delivery:
            await self.delivery.stop()
        with contextlib.suppress(Exception):
            if self.application.running:
                await asyncio.wait_for(self.application.stop(), bound)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.application.shutdown(), bound)

    async def _publish_commands(self) -> None:
        commands = [BotCommand(name, text) for name, text in self._config.commands.items()]
        try:
            await self.application.bot.set_my_commands(commands)
        except TelegramError as error:  # a missing menu is no reason not to answer people
            logger.warning("Telegram: could not set the command menu: %s", error)

    @property
    def routes(self) -> list[Route]:
        """The webhook endpoint (webhook mode only), for the one app ``policybot serve`` runs."""
        if not self.webhook_url:
            return []
        return [Route(WEBHOOK_PATH, self._webhook, methods=["POST"])]

    async def _webhook(self, request: Request) -> Response:
        """Check the secret header and the size, then queue the update (PTB's custom webhook)."""
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode("utf-8"), self.webhook_secret.encode("utf-8")):
            return Response("forbidden", status_code=403)
        limit = self._settings.telegram_max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return Response("update too large", status_code=413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return Response("update too large", status_code=413)
        try:
            payload = json.loads(body)
            if not isinstance(payload, dict):
                raise ValueError("an update is a JSON object")
            update = Update.de_json(payload, self.application.bot)
        except (JSONDecodeError, UnicodeDecodeError, ValueError, KeyError, TypeError):
            return Response("bad update", status_code=400)
        await self.application.update_queue.put(update)
        return Response(status_code=200)

    # --------------------------------------------------------------- handlers
    async def _on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A message or command (new or edited): recorded, answered in turn."""
        message, user, chat = update.effective_message, update.effective_user, update.effective_chat
        if message is None or user is None or chat is None or message.text is None:
            return
        text = self._addressed_text(message, chat)
        if text is not None:
            await self.delivery.submit(self._inbound(chat, user, text, reply_to=message))

    async def _on_media(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Files go to the core (an admin's is previewed for adding); other media get a hint."""
        message, user, chat = update.effective_message, update.effective_user, update.effective_chat
        if message is None or user is None or chat is None:
            return
        if chat.type in _GROUP_CHATS and not self._replies_to_bot(message):
            return
        inbound = self._inbound(chat, user, message.caption or "", reply_to=message)
        inbound.attachment = document_attachment(message)
        if inbound.attachment is not None:
            await self.delivery.submit(inbound)
            return
        await self.delivery.say(inbound, Reply(text=[self._config.texts["media_hint"]]))

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button press: its command goes through the core like typed text."""
        query = update.callback_query
        if query is None:
            return
        message = query.message
        command = self._codec.decode(query.data)
        if message is None:  # a button on an inline-mode message: nowhere to reply
            await query.answer()
            return
        inbound = self._inbound(message.chat, query.from_user, command or "")
        if command is None:
            expired = self._config.texts["button_expired"]
            await query.answer(text=expired)
            await self.delivery.say(inbound, Reply(text=[expired]))
            return
        if command.startswith(_FEEDBACK_PREFIX):  # a vote: a toast, and the row goes away
            inbound.text = command[len(_FEEDBACK_PREFIX) :]
            reply = await self.delivery.ask(self._incoming(inbound))
            note = reply.plain_text().strip() or self._config.texts["feedback_fallback"]
            await query.answer(text=note[:200])
            await self._drop_pressed_row(message, query.data)
            return
        await query.answer()  # stop the spinner before the (possibly slow) answer
        await self.delivery.submit(inbound)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log the failure for operators; tell the person briefly, never with the stack."""
        logger.error("Telegram update failed: %r", context.error, exc_info=context.error)
        if not isinstance(update, Update):
            return
        if update.callback_query is not None:
            with contextlib.suppress(TelegramError):  # it may have been answered already
                await update.callback_query.answer()
        if update.effective_chat is not None:
            with contextlib.suppress(TelegramError):
                await self.application.bot.send_message(
                    update.effective_chat.id, self._config.texts["error"]
                )

    # ---------------------------------------------------------------- translation
    def _inbound(
        self, chat: Chat, user: User, text: str, *, reply_to: Message | None = None
    ) -> Inbound:
        group = chat.type in _GROUP_CHATS
        quote = reply_to.message_id if group and reply_to is not None else None
        return Inbound(
            channel=self.name,
            user_id=str(user.id),
            session_id=f"{chat.id}:{user.id}" if group else str(chat.id),
            text=text,
            address={"chat_id": chat.id, "reply_to": quote},
        )

    def _incoming(self, inbound: Inbound) -> Incoming:
        return Incoming(
            channel=inbound.channel,
            user_id=inbound.user_id,
            session_id=inbound.session_id,
            text=inbound.text,
            is_admin=self._settings.is_admin(inbound.channel, inbound.user_id),
        )

    def _addressed_text(self, message: Message, chat: Chat) -> str | None:
        """The text meant for the bot, or ``None`` when it is not addressed to it.

        Commands lose their ``@botname`` suffix (and are ignored when meant for another bot);
        in groups, plain messages count only when they mention or reply to the bot, and the
        mention is removed before the core sees the text.
        """
        text = message.text or ""
        username = self.application.bot.username or ""
        command = re.match(r"/(\w+)(?:@(\w+))?", text)
        if command is not None:
            target = command.group(2)
            if target is not None and target.lower() != username.lower():
                return None
            return f"/{command.group(1)}{text[command.end() :]}"
        if chat.type not in _GROUP_CHATS:
            return text
        mention = re.compile(rf"@{re.escape(username)}\b", re.IGNORECASE) if username else None
        if mention is not None and mention.search(text):
            return mention.sub(" ", text).strip()
        if self._replies_to_bot(message):
            return text
        return None

    def _replies_to_bot(self, message: Message) -> bool:
        replied = message.reply_to_message
        return bool(
            replied and replied.from_user and replied.from_user.id == self.application.bot.id
        )

    # ---------------------------------------------------------------- the outlet
    def render(self, reply: Reply, address: dict[str, Any]) -> dict[str, Any]:
        """HTML messages; the keyboard under the last one, the quote on the first."""
        parts = render_reply(reply, self._config.message_chars)
        keyboard = self.keyboard(reply.buttons)
        markup = keyboard.to_dict() if keyboard is not None else None
        messages = [
            {
                "html": part,
                "keyboard": markup if index == len(parts) - 1 else None,
                "reply_to": address.get("reply_to") if index == 0 else None,
            }
            for index, part in enumerate(parts)
        ]
        return {"messages": messages}

    async def deliver(self, address: dict[str, Any], message: dict[str, Any]) -> None:
        """sendMessage; network errors, 5xx and 429 are retryable, other refusals are final."""
        quote = message.get("reply_to")
        keyboard = message.get("keyboard")
        try:
            await self.application.bot.send_message(
                address["chat_id"],
                message["html"],
                parse_mode=ParseMode.HTML,
                reply_markup=InlineKeyboardMarkup.de_json(keyboard, None) if keyboard else None,
                reply_parameters=(
                    ReplyParameters(quote, allow_sending_without_reply=True) if quote else None
                ),
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except RetryAfter as error:
            with warnings.catch_warnings():  # PTB 22.2 warns that it becomes a timedelta later
                warnings.simplefilter("ignore")
                retry_after = error.retry_after
            seconds = (
                retry_after.total_seconds()
                if isinstance(retry_after, dt.timedelta)
                else float(retry_after)
            )
            raise DeliveryError(str(error), retryable=True, retry_after=seconds) from None
        except (NetworkError, TimedOut) as error:  # PTB reports 5xx as NetworkError
            raise DeliveryError(str(error), retryable=True) from None
        except TelegramError as error:  # blocked, chat gone, bad request: retrying won't help
            raise DeliveryError(str(error), retryable=False) from None

    async def working(self, address: dict[str, Any]) -> None:
        """Show "typing…" only when an answer takes long enough for a person to notice."""
        await asyncio.sleep(self._config.typing_after_seconds)
        with contextlib.suppress(TelegramError):
            await self.application.bot.send_chat_action(address["chat_id"], ChatAction.TYPING)

    def keyboard(self, buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
        """The reply's buttons as an inline keyboard, each carrying its (encoded) command."""
        if not buttons:
            return None
        rows = layout_rows(
            buttons,
            max_per_row=self._config.keyboard_max_per_row,
            max_row_width=self._config.keyboard_max_row_width,
        )
        return InlineKeyboardMarkup([[self._button(button) for button in row] for row in rows])

    def _button(self, button: Button) -> InlineKeyboardButton:
        command = button.command
        if button.kind == "feedback":
            command = _FEEDBACK_PREFIX + command
        return InlineKeyboardButton(button.label, callback_data=self._codec.encode(command))

    async def _drop_pressed_row(self, message: object, data: str | None) -> None:
        """After a vote, remove the 👍/👎 row from the message so that it reads as done."""
        if not isinstance(message, Message) or message.reply_markup is None:
            return
        rows = [
            list(row)
            for row in message.reply_markup.inline_keyboard
            if not any(button.callback_data == data for button in row)
        ]
        with contextlib.suppress(TelegramError):
            await message.edit_reply_markup(InlineKeyboardMarkup(rows) if rows else None)
