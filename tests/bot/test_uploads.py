"""Adding a document from the chat (preview, add, cancel), the size limit, and /remove 文号."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.answering import AnswerService
from bot.dialogue import Dialogue
from bot.settings import Settings
from bot.types import Reply
from bot.uploads import PENDING_DIR, human_size
from retrieval.store import document_text, load_live_corpus
from tests.fakes.collecting import CollectingChannel
from tests.fakes.published import (
    AWARDS,
    NOTICE,
    NOTICE_TABLE_AFTER,
    make_docx,
    make_pdf,
    make_scanned_pdf,
)

SEED_134 = "000_c9113a1d546cd539.txt"


@pytest.fixture
def corpus(tmp_path: Path, seeds_dir: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(seeds_dir, folder)
    return folder


@pytest.fixture
def settings(corpus: Path, database_url: str) -> Settings:
    return Settings(database_url=database_url, corpus_dir=corpus, _env_file=None)


@pytest.fixture
def dialogue(db_engine: Engine, settings: Settings) -> Dialogue:
    return Dialogue(AnswerService(db_engine, settings), db_engine, settings)


@pytest.fixture
def admin(dialogue: Dialogue) -> CollectingChannel:
    return CollectingChannel(dialogue, user="boss", session="admin", is_admin=True)


@pytest.fixture
def user(dialogue: Dialogue) -> CollectingChannel:
    return CollectingChannel(dialogue, user="u1", session="s1")


def live_keys(engine: Engine) -> set[str]:
    corpus = load_live_corpus(engine)
    return set(corpus.documents) if corpus else set()


def button(reply: Reply, command: str) -> object:
    return next(b for b in reply.buttons if b.command.startswith(command))


async def test_an_admins_pdf_is_previewed_then_added_and_answered_from(
    admin: CollectingChannel, corpus: Path, db_engine: Engine
) -> None:
    before = live_keys(db_engine)
    pdf = make_pdf(NOTICE, table=AWARDS, table_after=NOTICE_TABLE_AFTER)

    preview = await admin.send_file("奖励办法.pdf", pdf)

    text = preview.plain_text()
    for expected in (
        "收到文件《奖励办法.pdf》",
        "标题：关于印发科技创新奖励办法的通知",
        "文号：东工信〔2024〕12号",
        "发文机关：东莞市工业和信息化局",
        "日期：2024-03-01",
        "级别：市级",
        "地区：广东/东莞",
        "条款数：",
        "  一、 对获得市科技创新奖",
        "提示：1 个表格已按行转为文字",
    ):
        assert expected in text
    assert [b.label for b in preview.buttons] == ["加入语料库", "取消"]
    assert live_keys(db_engine) == before and not (corpus / "奖励办法.pdf").exists()

    added = await admin.press(button(preview, "/upload add"))

    assert "已加入《奖励办法.pdf》" in added.plain_text() and "新增 1" in added.plain_text()
    assert (corpus / "奖励办法.pdf").read_bytes() == pdf
    assert live_keys(db_engine) == before | {"奖励办法.pdf"}
    assert "一等奖 | 50万元" in (document_text(db_engine, "奖励办法.pdf") or "")
    answer = await admin.say("东莞科技创新奖一等奖奖励多少？")
    assert any(a.doc_number == "东工信〔2024〕12号" for a in answer.answers)
    assert "已经处理过" in (await admin.press(button(preview, "/upload add"))).plain_text()


async def test_cancel_leaves_the_corpus_and_no_pending_file(
    admin: CollectingChannel, corpus: Path, db_engine: Engine
) -> None:
    preview = await admin.send_file("notice.docx", make_docx(NOTICE))
    assert any((corpus / PENDING_DIR).iterdir())

    cancelled = await admin.press(button(preview, "/upload cancel"))

    assert "已取消" in cancelled.plain_text()
    assert not any((corpus / PENDING_DIR).iterdir()) and not (corpus / "notice.docx").exists()
    assert load_live_corpus(db_engine) is None or "notice.docx" not in live_keys(db_engine)


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("scan.pdf", make_scanned_pdf(), "扫描件，没有可读取的文字"),
        (
            "old.doc",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512,
            "请在 Word 或 WPS 中另存为 .docx",
        ),
        ("broken.docx", b"PK\x03\x04 broken", "文件损坏"),
        ("photo.jpg", b"\xff\xd8\xff", "不支持 .jpg"),
    ],
)
async def test_an_unreadable_file_is_refused_and_changes_nothing(
    admin: CollectingChannel, corpus: Path, name: str, data: bytes, words: str
) -> None:
    files = sorted(path.name for path in corpus.iterdir())

    reply = await admin.send_file(name, data)

    assert words in reply.plain_text() and not reply.buttons
    assert sorted(path.name for path in corpus.iterdir() if path.name != PENDING_DIR) == files
    pending = corpus / PENDING_DIR
    assert not pending.exists() or not any(pending.iterdir())


async def test_a_file_over_the_limit_is_refused_before_download(
    db_engine: Engine, corpus: Path, database_url: str
) -> None:
    settings = Settings(
        database_url=database_url, corpus_dir=corpus, max_upload_mb=0.01, _env_file=None
    )
    dialogue = Dialogue(AnswerService(db_engine, settings), db_engine, settings)
    admin = CollectingChannel(dialogue, user="boss", session="a", is_admin=True)
    fetched: list[bool] = []

    async def fetch() -> bytes:
        fetched.append(True)
        return b"x"

    declared = await admin.send_file("big.pdf", fetch=fetch, size=50_000)
    sent = await admin.send_file("big.txt", ("政策" * 10_000).encode())

    assert declared.plain_text() == "文件太大（48 KB），上限是 10 KB。请压缩或拆分后再发送。"
    assert "文件太大（58 KB）" in sent.plain_text() and fetched == []
    assert human_size(20 * 1024 * 1024) == "20 MB"
    assert Settings(_env_file=None).max_upload_bytes == 20 * 1024 * 1024


async def test_a_non_admins_file_gets_the_usual_hint_and_is_not_fetched(
    user: CollectingChannel,
) -> None:
    async def fetch() -> bytes:
        raise AssertionError("a non-admin's file must not be downloaded")

    reply = await user.send_file("notice.pdf", fetch=fetch, size=100)

    assert reply.kind == "hint" and "文字" in reply.plain_text() and not reply.buttons
    refused = await user.say("/upload add 0123456789abcdef")
    assert refused.kind == "refusal"


async def test_a_failed_download_is_told(admin: CollectingChannel) -> None:
    async def fetch() -> bytes:
        raise OSError("connection reset")

    reply = await admin.send_file("notice.pdf", fetch=fetch, size=100)
    assert reply.plain_text() == "文件没能下载下来，请稍后再发送一次。"


async def test_another_format_of_a_live_document_replaces_it_as_one_document(
    admin: CollectingChannel, corpus: Path, db_engine: Engine
) -> None:
    text = (corpus / SEED_134).read_text(encoding="utf-8")
    await admin.say("/reload")

    preview = await admin.send_file("134.docx", make_docx(text))
    assert f"文号相同的文件 {corpus.as_posix()}/{SEED_134}" in preview.plain_text()
    added = await admin.press(button(preview, "/upload add"))

    assert "已加入" in added.plain_text()
    live = load_live_corpus(db_engine)
    assert live is not None
    holders = [k for k, d in live.documents.items() if d.doc_number == "东工信函〔2021〕134号"]
    assert holders == ["134.docx"] and len(live.documents) == 5


async def test_remove_asks_then_takes_the_document_out_keeping_the_file(
    admin: CollectingChannel, user: CollectingChannel, corpus: Path, db_engine: Engine
) -> None:
    await admin.say("/reload")
    assert (await user.say("/remove 东工信函〔2021〕134号")).kind == "refusal"

    asked = await admin.say("/remove 东工信函〔2021〕134号")

    assert "确定把下面的文件移出语料库吗？" in asked.plain_text()
    assert SEED_134 in live_keys(db_engine)
    assert "已取消" in (await admin.press(button(asked, "/remove cancel"))).plain_text()
    assert SEED_134 in live_keys(db_engine)

    done = await admin.press(button(asked, "/remove confirm"))

    assert "已移出 东工信函〔2021〕134号" in done.plain_text() and "删除 1" in done.plain_text()
    assert SEED_134 not in live_keys(db_engine) and len(live_keys(db_engine)) == 4
    assert list((corpus / ".removed").glob(f"*/{SEED_134}"))
    assert "不在语料库" in (await admin.press(button(asked, "/remove confirm"))).plain_text()
    assert "没有文号为" in (await admin.say("/remove 粤府〔1999〕1号")).plain_text()
