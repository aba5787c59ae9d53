"""``policybot serve`` checks the corpus version in the background: after another process
reloaded the corpus and the bot sat idle, the very first answer already comes from the new
corpus (without the background check it would come from the old one while the new index is
built). Driven through ``serve`` and the stand-in Telegram server, not by calling the check."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from bot.channels.serve import listening_socket, serve
from bot.db import make_engine
from bot.settings import Settings
from retrieval.store import reload_corpus
from tests.fakes.telegram_api import FakeTelegramAPI

pytestmark = pytest.mark.e2e

SEEDS = Path(__file__).resolve().parents[3] / "seeds"
QUESTION = "东莞5G项目能拿多少补贴？"
CITED_NUMBER = "东工信函〔2021〕169号"
CITING_FILE = "001_bd8b0df8f42f7b73.txt"  # the seed that answers QUESTION with CITED_NUMBER


async def wait_until(condition: object, timeout: float = 90.0) -> None:
    """Poll ``condition()`` (a hang guard, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not condition():  # type: ignore[operator]
        if loop.time() > end:
            raise AssertionError("the new corpus never went live in this process")
        await asyncio.sleep(0.05)


async def test_first_answer_after_another_process_reloaded_is_from_the_new_corpus(
    tmp_path: Path,
) -> None:
    from bot.app import build_dialogue

    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    async with FakeTelegramAPI() as api:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            telegram_bot_token=api.token,
            telegram_base_url=api.base_url,
            database_url=f"sqlite:///{tmp_path / 'policybot.db'}",
            corpus_dir=corpus,
            corpus_check_seconds=0.2,
        )
        dialogue = await asyncio.to_thread(build_dialogue, settings)
        service = dialogue.service
        stop = asyncio.Event()
        sock = listening_socket("127.0.0.1", 0)
        task = asyncio.create_task(
            serve(dialogue, settings, ["telegram"], stop=stop, sockets=[sock])
        )
        try:
            await api.wait_for("getUpdates", timeout=60)
            api.message(QUESTION, user_id=61)
            [before] = await api.wait_for("sendMessage", chat_id=61)
            assert CITED_NUMBER in before.text  # the old corpus answers with it

            # another process takes the document out and reloads (its own engine)
            (corpus / CITING_FILE).unlink()
            other = make_engine(settings.database_url)
            try:
                report = await asyncio.to_thread(reload_corpus, engine=other, corpus_dir=corpus)
            finally:
                other.dispose()
            assert report.swapped and report.version != service.live.current.version

            # idle: nobody asks; only serve's background check can pick the new version up
            await wait_until(lambda: service.live.current.version == report.version)

            api.message(QUESTION, user_id=62)
            [after] = await api.wait_for("sendMessage", chat_id=62)
            assert after.text.strip()
            assert CITED_NUMBER not in after.text  # the first answer is from the new corpus
        finally:
            stop.set()
            assert await asyncio.wait_for(task, 30) == 0
