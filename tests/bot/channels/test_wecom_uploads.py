"""An admin sends a file to the WeCom app: fetched through media/get of the stand-in WeCom
server, previewed with the commands to add or cancel, added by replying the command."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from bot.app import build_dialogue
from bot.channels.wecom import WeComChannel
from bot.channels.wecom.render import load_config
from bot.settings import Settings
from tests.fakes import wecom_vectors as V
from tests.fakes.published import NOTICE, make_docx
from tests.fakes.wecom_api import FakeWeComApi, WeComCallbackClient

pytestmark = pytest.mark.e2e

SEEDS = Path(__file__).resolve().parents[3] / "seeds"
SECRET = "corp-secret-never-logged"
AGENT_ID = 1000002
ADMIN = "zhangsan"


@pytest.fixture
def fake_api() -> Iterator[FakeWeComApi]:
    with FakeWeComApi(corp_id=V.CORP_ID, secret=SECRET, agent_id=AGENT_ID) as api:
        yield api


@pytest.fixture
async def client(tmp_path: Path, fake_api: FakeWeComApi) -> AsyncIterator[WeComCallbackClient]:
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{tmp_path / 'wecom.db'}",
        corpus_dir=corpus,
        wecom_corp_id=V.CORP_ID,
        wecom_token=V.TOKEN,
        wecom_aes_key=V.ENCODING_AES_KEY,
        wecom_agent_id=str(AGENT_ID),
        wecom_secret=SECRET,
        wecom_api_base=fake_api.base_url,
        wecom_admin_ids=ADMIN,
        max_upload_mb=0.5,
    )
    dialogue = await asyncio.to_thread(build_dialogue, settings)
    channel = WeComChannel(dialogue, settings, reply_budget_seconds=60)
    await channel.start()
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=Starlette(routes=channel.routes)), base_url="http://w"
    )
    yield WeComCallbackClient(
        http, token=V.TOKEN, aes_key=V.ENCODING_AES_KEY, corp_id=V.CORP_ID, agent_id=AGENT_ID
    )
    await http.aclose()
    await asyncio.wait_for(channel.stop(), 30)


async def test_an_admins_file_is_fetched_previewed_and_added(
    client: WeComCallbackClient, fake_api: FakeWeComApi, tmp_path: Path
) -> None:
    data = make_docx(NOTICE)
    fake_api.media["media-doc-1"] = data

    preview = client.open(
        await client.post(client.file_xml(ADMIN, "media-doc-1", "奖励办法.docx", len(data)))
    )

    assert preview is not None and fake_api.media_downloads == ["media-doc-1"]
    assert "文号：东工信〔2024〕12号" in preview.content
    command = re.search(r"/upload add \w+", preview.content)
    assert command is not None and "/upload cancel" in preview.content
    added = await client.ask(ADMIN, command.group())
    assert added is not None and "已加入《奖励办法.docx》" in added.content
    assert (tmp_path / "corpus" / "奖励办法.docx").read_bytes() == data


async def test_others_files_and_large_files_are_not_downloaded(
    client: WeComCallbackClient, fake_api: FakeWeComApi
) -> None:
    fake_api.media["media-doc-2"] = make_docx(NOTICE)

    hint = client.open(await client.post(client.file_xml("lisi", "media-doc-2", "a.docx", 100)))
    big = client.open(
        await client.post(client.file_xml(ADMIN, "media-doc-2", "b.docx", 5 * 1024 * 1024))
    )

    assert hint is not None and hint.content == load_config()["hints"]["file"]
    assert big is not None and "文件太大（5 MB），上限是 512 KB" in big.content
    assert fake_api.media_downloads == []


async def test_a_media_id_wecom_does_not_know_is_told_as_a_failed_download(
    client: WeComCallbackClient, fake_api: FakeWeComApi
) -> None:
    reply = client.open(await client.post(client.file_xml(ADMIN, "gone", "c.docx", 100)))
    assert reply is not None and reply.content == "文件没能下载下来，请稍后再发送一次。"
