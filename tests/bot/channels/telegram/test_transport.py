"""Telegram's wire (bot/channels/telegram/transport.py): requests that never left are retried,
requests that may have arrived are not, and no secret reaches a log line."""

from __future__ import annotations

import logging

import pytest
from telegram import Bot
from telegram.error import NetworkError

from bot.channels.serve import listening_socket
from bot.channels.telegram.transport import RetryingRequest, SecretRedactingFilter
from tests.fakes.telegram_api import FakeTelegramAPI


@pytest.mark.unit
async def test_requests_that_never_reached_telegram_are_retried(caplog: pytest.LogCaptureFixture):
    closed = listening_socket("127.0.0.1", 0)
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: every connection is refused
    bot = Bot("1:x", base_url=f"http://127.0.0.1:{port}/bot")
    bot._request = (bot._request[0], RetryingRequest(retries=2, retry_seconds=0.0))  # type: ignore[attr-defined]
    with caplog.at_level("WARNING", logger="bot.channels.telegram"), pytest.raises(NetworkError):
        await bot.get_me()
    assert caplog.text.count("Telegram unreachable") == 2


@pytest.mark.e2e
async def test_requests_that_reached_telegram_are_not_repeated():
    async with FakeTelegramAPI() as api:
        api.fail_next("getMe", error_code=502, description="Bad Gateway")
        request = RetryingRequest(retries=3, retry_seconds=0.0)
        with pytest.raises(NetworkError, match="Bad Gateway"):
            async with Bot(api.token, base_url=api.base_url, request=request):  # getMe on entry
                pass
        assert len(api.calls_of("getMe")) == 1


@pytest.mark.unit
def test_secrets_are_replaced_by_their_names_at_any_level():
    record = logging.LogRecord(
        "telegram.Bot", logging.DEBUG, __file__, 1, "POST %s secret=%s", ("/bot1:abc", "s3"), None
    )
    redactor = SecretRedactingFilter({"1:abc": "TELEGRAM_BOT_TOKEN", "s3": "SECRET", "": "EMPTY"})
    assert redactor.filter(record)
    assert record.getMessage() == "POST /bot<TELEGRAM_BOT_TOKEN> secret=<SECRET>"
