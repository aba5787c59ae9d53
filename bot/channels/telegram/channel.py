"""The Telegram channel: python-telegram-bot v22 translating to and from the dialogue core.

Every message, command and button press becomes an ``Inbound`` for ``bot.delivery`` (which
records it, queues it per session, answers it and sends the answer until Telegram accepts it);
every ``Reply`` is rendered as Telegram HTML (``render``) with its buttons as an inline keyboard
(``keyboard``). In groups the bot answers only when addressed. The wire (``transport``) maps Bot
API errors to retryable or not.

Usage (what ``policybot serve telegram`` does)::

    channel = TelegramChannel(dialogue, settings, delivery=delivery)
    await channel.start()   # polling, or setWebhook when TELEGRAM_WEBHOOK_URL is set
    ...                     # webhook mode: mount channel.routes in a starlette app
    await channel.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any

from starlette.routing import Route
from telegram import Chat, Message, Update, User
from telegram.constants import ChatAction, ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.channels import DialogueHandler
from bot.channels.telegram import transport
from bot.channels.telegram.config import TelegramConfig
from bot.channels.telegram.keyboard import CallbackCodec, Keyboards, drop_pressed_row, vote
from bot.channels.telegram.render import render_reply
from bot.delivery import Delivery, Inbound
from bot.settings import Settings
from bot.types import Attachment, Incoming, Reply

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram"
_GROUP_CHATS = {ChatType.GROUP, ChatType.SUPERGROUP}


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
        self._config = config = config or TelegramConfig.load()
        token = settings.telegram_bot_token.get_secret_value().strip()
        self._owns_delivery = delivery is None
        if delivery is None:
            from bot.db import make_engine

            delivery = Delivery(dialogue, make_engine(settings.database_url), settings)
        self.delivery = delivery
        self._keyboards = Keyboards(
            CallbackCodec(config.callback_max_keys),
            max_per_row=config.keyboard_max_per_row,
            max_row_width=config.keyboard_max_row_width,
        )
        self._poll_timeout = poll_timeout
        self.webhook_url = settings.telegram_webhook_url or None
        secret = settings.telegram_webhook_secret
        self.webhook_secret = (
            secret.get_secret_value() if secret else transport.derived_webhook_secret(token)
        )
        transport.protect_token_in_logs(token, self.webhook_secret)
        self.application = transport.build_application(
            token,
            settings.telegram_base_url,
            config,
            rate_limited=rate_limited,
            polling=not self.webhook_url,
            on_text=self._on_text,
            on_media=self._on_media,
            on_button=self._on_button,
        )
        self._webhook = transport.WebhookEndpoint(
            self.application, self.webhook_secret, settings.telegram_max_body_bytes
        )
        delivery.register(self)

    # ----------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Connect (getMe), publish the command menu, then poll or register the webhook."""
        await self.application.initialize()
        await transport.publish_commands(self.application.bot, self._config.commands)
        if self._owns_delivery:
            await self.delivery.start()
        await transport.listen(
            self.application,
            webhook_url=self.webhook_url,
            secret=self.webhook_secret,
            poll_timeout=self._poll_timeout,
        )

    async def stop(self) -> None:
        """Stop fetching, finish answers within the grace period (the rest stays queued)."""
        bound = self._settings.shutdown_grace_seconds + 5
        await transport.stop_fetching(self.application, bound)
        if self._owns_delivery:
            await self.delivery.stop()
        await transport.close(self.application, bound)

    @property
    def routes(self) -> list[Route]:
        """The webhook endpoint (webhook mode only), for the one app ``policybot serve`` runs."""
        if not self.webhook_url:
            return []
        return [Route(WEBHOOK_PATH, self._webhook.handle, methods=["POST"])]

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
        command = self._keyboards.codec.decode(query.data)
        if message is None:  # a button on an inline-mode message: nowhere to reply
            await query.answer()
            return
        inbound = self._inbound(message.chat, query.from_user, command or "")
        if command is None:
            expired = self._config.texts["button_expired"]
            await query.answer(text=expired)
            await self.delivery.say(inbound, Reply(text=[expired]))
            return
        if (feedback := vote(command)) is not None:  # a toast, and the row goes away
            inbound.text = feedback
            reply = await self.delivery.ask(self._incoming(inbound))
            note = reply.plain_text().strip() or self._config.texts["feedback_fallback"]
            await query.answer(text=note[:200])
            await drop_pressed_row(message, query.data)
            return
        await query.answer()  # stop the spinner before the (possibly slow) answer
        await self.delivery.submit(inbound)

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
        markup = self._keyboards.markup(reply.buttons)
        last = len(parts) - 1
        return {
            "messages": [
                {
                    "html": part,
                    "keyboard": markup if index == last else None,
                    "reply_to": address.get("reply_to") if index == 0 else None,
                }
                for index, part in enumerate(parts)
            ]
        }

    async def deliver(self, address: dict[str, Any], message: dict[str, Any]) -> None:
        """sendMessage; network errors, 5xx and 429 are retryable, other refusals are final."""
        await transport.send_html(self.application.bot, address["chat_id"], message)

    async def working(self, address: dict[str, Any]) -> None:
        """Show "typing…" only when an answer takes long enough for a person to notice."""
        await asyncio.sleep(self._config.typing_after_seconds)
        with contextlib.suppress(TelegramError):
            await self.application.bot.send_chat_action(address["chat_id"], ChatAction.TYPING)


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
