"""An admin sends a document to the Telegram bot: preview, add button, the live corpus grows.

The real python-telegram-bot client downloads the file through getFile and the file URL of
the stand-in Bot API server; the core decides what happens with it.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import build_dialogue
from bot.channels.telegram import TelegramChannel, TelegramConfig
from bot.settings import Settings
from tests.fakes.published import NOTICE, make_pdf
from tests.fakes.telegram_api import FakeTelegramAPI

pytestmark = pytest.mark.e2e

SEEDS = Path(__file__).resolve().parents[3] / "seeds"
ADMIN = 4242


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as server:
        yield server


@pytest.fixture
async def bot(api: FakeTelegramAPI, tmp_path: Path) -> AsyncIterator[TelegramChannel]:
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token=api.token,
        telegram_base_url=api.base_url,
        admin_ids={str(ADMIN)},
        database_url=f"sqlite:///{tmp_path / 'policybot.db'}",
        corpus_dir=corpus,
        max_upload_mb=0.5,
    )
    channel = TelegramChannel(build_dialogue(settings), settings, poll_timeout=1)
    await channel.start()
    try:
        yield channel
    finally:
        await channel.stop()


async def test_an_admins_document_is_previewed_and_added_by_button(
    api: FakeTelegramAPI, bot: TelegramChannel, tmp_path: Path
) -> None:
    api.document("奖励办法.pdf", make_pdf(NOTICE), user_id=ADMIN)

    [preview] = await api.wait_for("sendMessage", chat_id=ADMIN)

    assert api.downloads == ["documents/BQACAgFakeDoc1"]
    assert "文号：东工信〔2024〕12号" in preview.text and "条款数：" in preview.text
    labels = [label for label, _data in preview.buttons()]
    assert labels == ["加入语料库", "取消"]
    add = next(data for label, data in preview.buttons() if label == "加入语料库")
    api.press(add, user_id=ADMIN, on=preview)
    added = await api.wait_for("sendMessage", count=2, chat_id=ADMIN)

    assert "已加入《奖励办法.pdf》" in added[-1].text
    assert (tmp_path / "corpus" / "奖励办法.pdf").exists()


async def test_others_get_the_hint_and_large_files_are_not_downloaded(
    api: FakeTelegramAPI, bot: TelegramChannel
) -> None:
    api.document("notice.pdf", make_pdf(NOTICE), user_id=77)
    [hint] = await api.wait_for("sendMessage", chat_id=77)
    assert hint.text == TelegramConfig.load().texts["media_hint"]

    api.document("big.pdf", b"%PDF-1.4", declared_size=2 * 1024 * 1024, user_id=ADMIN)
    [refusal] = await api.wait_for("sendMessage", chat_id=ADMIN)

    assert "文件太大（2 MB），上限是 512 KB" in refusal.text
    assert api.downloads == [] and not api.calls_of("getFile")
