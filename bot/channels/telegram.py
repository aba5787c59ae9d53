"""The Telegram channel: python-telegram-bot v22 in front of the dialogue core.

Every message, command and button press becomes an ``Incoming`` for the core; every ``Reply``
is rendered as Telegram HTML (``telegram_render``) with its buttons as an inline keyboard. The
channel decides nothing about answers: it only translates, keeps one user from flooding, keeps
callback data within Telegram's 64 bytes, and answers in groups only when addressed.

Usage (what ``policybot serve telegram`` does)::

    channel = TelegramChannel(dialogue, settings)
    await channel.start()   # polling, or setWebhook when TELEGRAM_WEBHOOK_URL is set
    ...                     # webhook mode: mount channel.routes() in a starlette app
    await channel.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
import time
import tomllib
import unicodedata
import weakref
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Sequence
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
from telegram.error import NetworkError, TelegramError, TimedOut
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
from bot.settings import Settings
from bot.types import Attachment, Button, Incoming, Reply

logger = logging.getLogger(__name__)

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "telegram.toml"
WEBHOOK_PATH = "/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
CALLBACK_DATA_BYTES = 64  # Telegram's limit on InlineKeyboardButton.callback_data
_KEY_PREFIX = "#"  # commands start with "/", so a key can never be mistaken for one
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
    throttle_burst: int
    throttle_refill_seconds: float
    throttle_max_users: int
    callback_max_keys: int
    keyboard_max_per_row: int
    keyboard_max_row_width: int
    message_chars: int
    overall_per_second: float
    group_per_minute: float
    retry_after_retries: int
    network_retries: int
    network_retry_seconds: float
    typing_after_seconds: float

    @classmethod
    def load(cls, path: Path = DATA_FILE) -> TelegramConfig:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        throttle, keyboard, limits = data["throttle"], data["keyboard"], data["limits"]
        return cls(
            commands=dict(data["commands"]),
            texts=dict(data["texts"]),
            throttle_burst=int(throttle["burst"]),
            throttle_refill_seconds=float(throttle["refill_seconds"]),
            throttle_max_users=int(throttle["max_users"]),
            callback_max_keys=int(data["callbacks"]["max_keys"]),
            keyboard_max_per_row=int(keyboard["max_per_row"]),
            keyboard_max_row_width=int(keyboard["max_row_width"]),
            message_chars=int(limits["message_chars"]),
            overall_per_second=float(limits["overall_per_second"]),
            group_per_minute=float(limits["group_per_minute"]),
            retry_after_retries=int(limits["retry_after_retries"]),
            network_retries=int(limits["network_retries"]),
            network_retry_seconds=float(limits["network_retry_seconds"]),
            typing_after_seconds=float(limits["typing_after_seconds"]),
        )


class Throttle:
    """Per-user token bucket, so one person flooding the bot cannot starve everyone else.

    ``allow`` spends a token; when none is left the caller should refuse, and ``should_notify``
    says whether this is the first refusal of the streak (one polite message, not one per flood
    message). ``clock`` is injectable so that tests need no sleeping.
    """

    def __init__(
        self,
        *,
        burst: int,
        refill_seconds: float,
        max_users: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._burst = float(burst)
        self._rate = 1.0 / refill_seconds if refill_seconds > 0 else float("inf")
        self._max_users = max_users
        self._clock = clock
        # user -> (tokens, last refill time, already told to slow down)
        self._buckets: OrderedDict[str, tuple[float, float, bool]] = OrderedDict()

    def allow(self, user_id: str) -> bool:
        now = self._clock()
        tokens, last, notified = self._buckets.pop(user_id, (self._burst, now, False))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
            notified = False
        self._buckets[user_id] = (tokens, now, notified)
        while len(self._buckets) > self._max_users:  # least recently seen first
            self._buckets.popitem(last=False)
        return allowed

    def should_notify(self, user_id: str) -> bool:
        """True once per streak of refusals: the first refused message gets the polite note."""
        tokens, last, notified = self._buckets.get(user_id, (self._burst, self._clock(), False))
        if notified:
            return False
        self._buckets[user_id] = (tokens, last, True)
        return True


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
        if data.startswith("/"):
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
    """Rows of buttons: one kind of action (the command word) per row, packed by width."""
    rows: list[list[Button]] = []
    width = 0
    kind = None
    for button in buttons:
        button_kind = button.command.split(maxsplit=1)[0] if button.command.strip() else ""
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


class TokenRedactingFilter(logging.Filter):
    """Replaces the bot token in log records: Bot API URLs carry it in their path."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self._secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._secret and self._secret in message:
            record.msg = message.replace(self._secret, "<TELEGRAM_BOT_TOKEN>")
            record.args = None
        return True


def protect_token_in_logs(token: str) -> None:
    """Silence httpx's per-request INFO lines (URLs with the token) and redact it elsewhere."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    redactor = TokenRedactingFilter(token)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)


class TelegramChannel:
    """One bot: the PTB ``Application``, its handlers, and the translation to and from the core."""

    def __init__(
        self,
        dialogue: DialogueHandler,
        settings: Settings,
        *,
        config: TelegramConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        rate_limited: bool = True,
        poll_timeout: int = 10,
    ) -> None:
        if not settings.telegram_enabled or settings.telegram_bot_token is None:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        self._dialogue = dialogue
        self._settings = settings
        self._config = config or TelegramConfig.load()
        self._token = settings.telegram_bot_token.get_secret_value().strip()
        self._throttle = Throttle(
            burst=self._config.throttle_burst,
            refill_seconds=self._config.throttle_refill_seconds,
            max_users=self._config.throttle_max_users,
            clock=clock,
        )
        self._codec = CallbackCodec(self._config.callback_max_keys)
        self._session_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._background: set[asyncio.Task[Any]] = set()
        self._poll_timeout = poll_timeout
        self.webhook_url = settings.telegram_webhook_url or None
        secret = settings.telegram_webhook_secret
        self.webhook_secret = (
            secret.get_secret_value() if secret else derived_webhook_secret(self._token)
        )
        self.application = self._build_application(rate_limited=rate_limited)

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
            .concurrent_updates(True)  # one slow question must not hold up everyone else
        )
        if rate_limited:
            builder = builder.rate_limiter(
                AIORateLimiter(
                    overall_max_rate=config.overall_per_second,
                    group_max_rate=config.group_per_minute,
                    max_retries=config.retry_after_retries,  # PTB's default 0 ignores RetryAfter
                )
            )
        if self.webhook_url:
            builder = builder.updater(None)  # updates arrive through routes(), not getUpdates
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
        """Stop fetching, let handlers in flight finish, close connections."""
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.application.running:
            await self.application.stop()
        for task in list(self._background):
            task.cancel()
        await self.application.shutdown()

    async def _publish_commands(self) -> None:
        commands = [BotCommand(name, text) for name, text in self._config.commands.items()]
        try:
            await self.application.bot.set_my_commands(commands)
        except TelegramError as error:  # a missing menu is no reason not to answer people
            logger.warning("Telegram: could not set the command menu: %s", error)

    def routes(self) -> list[Route]:
        """The webhook endpoint, for the one starlette app ``policybot serve`` runs."""
        return [Route(WEBHOOK_PATH, self._webhook, methods=["POST"])]

    async def _webhook(self, request: Request) -> Response:
        """Check the secret header, then queue the update (PTB's custom-webhook pattern)."""
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode("utf-8"), self.webhook_secret.encode("utf-8")):
            return Response("forbidden", status_code=403)
        try:
            payload = await request.json()
            if not isinstance(payload, dict):
                raise ValueError("an update is a JSON object")
            update = Update.de_json(payload, self.application.bot)
        except (JSONDecodeError, UnicodeDecodeError, ValueError, KeyError, TypeError):
            return Response("bad update", status_code=400)
        await self.application.update_queue.put(update)
        return Response(status_code=200)

    # --------------------------------------------------------------- handlers
    async def _on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A message or command (new or edited): through the core, answer in HTML."""
        message, user, chat = update.effective_message, update.effective_user, update.effective_chat
        if message is None or user is None or chat is None or message.text is None:
            return
        text = self._addressed_text(message, chat)
        if text is None or not await self._admit(user, chat):
            return
        reply = await self._ask(chat, user, text)
        await self._send(chat, reply, reply_to=message)

    async def _on_media(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stickers, photos, voice, files: a short hint that only text is understood."""
        message, user, chat = update.effective_message, update.effective_user, update.effective_chat
        if message is None or user is None or chat is None:
            return
        if chat.type in _GROUP_CHATS and not self._replies_to_bot(message):
            return
        if not await self._admit(user, chat):
            return
        attachment = document_attachment(message)
        if attachment is not None:  # the core decides: an admin's file is previewed for adding
            reply = await self._ask(chat, user, message.caption or "", attachment=attachment)
            await self._send(chat, reply, reply_to=message)
            return
        await self._send_text(chat, self._config.texts["media_hint"], reply_to=message)

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button press: its command goes through the core like typed text."""
        query = update.callback_query
        if query is None:
            return
        message = query.message
        command = self._codec.decode(query.data)
        if command is None:
            expired = self._config.texts["button_expired"]
            await query.answer(text=expired)
            if message is not None:
                await self._send_text(message.chat, expired)
            return
        if message is None:  # a button on an inline-mode message: nowhere to reply
            await query.answer()
            return
        user_key = str(query.from_user.id)
        if not self._throttle.allow(user_key):
            await query.answer(text=self._config.texts["throttled"])
            return
        if command.startswith("/feedback"):
            reply = await self._ask(message.chat, query.from_user, command)
            note = reply.plain_text().strip() or self._config.texts["feedback_fallback"]
            await query.answer(text=note[:200])
            await self._drop_pressed_row(message, query.data)
            return
        await query.answer()  # stop the spinner before the (possibly slow) answer
        reply = await self._ask(message.chat, query.from_user, command)
        await self._send(message.chat, reply)

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
                await self._send_text(update.effective_chat, self._config.texts["error"])

    # ---------------------------------------------------------------- helpers
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

    async def _admit(self, user: User, chat: Chat) -> bool:
        """Spend one of the user's tokens; on the first refusal say politely to slow down."""
        user_key = str(user.id)
        if self._throttle.allow(user_key):
            return True
        if self._throttle.should_notify(user_key):
            await self._send_text(chat, self._config.texts["throttled"])
        return False

    async def _ask(
        self, chat: Chat, user: User, text: str, *, attachment: Attachment | None = None
    ) -> Reply:
        """The core's reply; one session at a time, other sessions run alongside."""
        session_id = str(chat.id) if chat.type not in _GROUP_CHATS else f"{chat.id}:{user.id}"
        incoming = Incoming(
            channel="telegram",
            user_id=str(user.id),
            session_id=session_id,
            text=text,
            is_admin=str(user.id) in self._settings.admin_ids,
            attachment=attachment,
        )
        lock = self._session_locks.get(session_id)
        if lock is None:
            lock = asyncio.Lock()
            self._session_locks[session_id] = lock
        async with lock:
            typing = self._in_background(self._typing_soon(chat.id))
            try:
                return await self._dialogue.handle(incoming)
            finally:
                typing.cancel()

    async def _typing_soon(self, chat_id: int) -> None:
        """Show "typing…" only when an answer takes long enough for a person to notice."""
        await asyncio.sleep(self._config.typing_after_seconds)
        await self.application.bot.send_chat_action(chat_id, ChatAction.TYPING)

    async def _send(self, chat: Chat, reply: Reply, *, reply_to: Message | None = None) -> None:
        """The reply as one or more HTML messages; the keyboard goes under the last one."""
        parts = render_reply(reply, self._config.message_chars)
        keyboard = self.keyboard(reply.buttons)
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            await self._send_html(
                chat,
                part,
                keyboard=keyboard if last else None,
                reply_to=reply_to if index == 0 else None,
            )

    async def _send_text(self, chat: Chat, text: str, *, reply_to: Message | None = None) -> None:
        await self.application.bot.send_message(
            chat.id,
            text,
            reply_parameters=self._quote(chat, reply_to),
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )

    async def _send_html(
        self,
        chat: Chat,
        html_text: str,
        *,
        keyboard: InlineKeyboardMarkup | None,
        reply_to: Message | None,
    ) -> None:
        await self.application.bot.send_message(
            chat.id,
            html_text,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard,
            reply_parameters=self._quote(chat, reply_to),
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )

    @staticmethod
    def _quote(chat: Chat, message: Message | None) -> ReplyParameters | None:
        """In groups, answer as a reply so that it is clear whom the bot is answering."""
        if message is None or chat.type not in _GROUP_CHATS:
            return None
        return ReplyParameters(message.message_id, allow_sending_without_reply=True)

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
        return InlineKeyboardButton(button.label, callback_data=self._codec.encode(button.command))

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

    def _in_background(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[None]:
        """Fire and forget (typing indicator): failures are only logged, never shown."""

        async def guarded() -> None:
            try:
                await coroutine
            except TelegramError as error:
                logger.debug("Telegram: background call failed: %s", error)

        task = asyncio.get_running_loop().create_task(guarded())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(lambda _task: coroutine.close())  # cancelled before it started
        return task
