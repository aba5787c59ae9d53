"""The WeCom (企业微信) channel, by job: ``channel`` (translation to and from the core),
``callback`` (signatures, crypto, timestamps and the 5 s rule), ``api`` (gettoken, message/send,
media/get), ``render`` (a Reply as a 2048-byte passive text and active sends).
"""

from __future__ import annotations

from bot.channels.wecom.channel import RETRYABLE_ERRCODES, WeComChannel, wecom_routes

__all__ = ["RETRYABLE_ERRCODES", "WeComChannel", "wecom_routes"]
