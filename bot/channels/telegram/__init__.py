"""The Telegram channel, by job: ``channel`` (translation to and from the core), ``render``
(a Reply as Telegram HTML), ``keyboard`` (buttons and 64-byte callback data), ``transport``
(PTB's Application, the webhook, sending, retries and secrets kept out of logs), ``config``.
"""

from __future__ import annotations

from bot.channels.telegram.channel import WEBHOOK_PATH, TelegramChannel, document_attachment
from bot.channels.telegram.config import TelegramConfig
from bot.channels.telegram.keyboard import CALLBACK_DATA_BYTES, CallbackCodec, layout_rows
from bot.channels.telegram.transport import (
    ALLOWED_UPDATES,
    SECRET_HEADER,
    RetryingRequest,
    SecretRedactingFilter,
    TokenRedactingFilter,
    derived_webhook_secret,
    protect_token_in_logs,
)

__all__ = [
    "ALLOWED_UPDATES",
    "CALLBACK_DATA_BYTES",
    "SECRET_HEADER",
    "WEBHOOK_PATH",
    "CallbackCodec",
    "RetryingRequest",
    "SecretRedactingFilter",
    "TelegramChannel",
    "TelegramConfig",
    "TokenRedactingFilter",
    "derived_webhook_secret",
    "document_attachment",
    "layout_rows",
    "protect_token_in_logs",
]
