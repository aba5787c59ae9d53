"""``policybot add FILE`` and ``policybot reload`` over published files, through bot.cli.main."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import get_settings
from tests.fakes.published import make_docx, make_html, make_pdf, make_scanned_pdf

NOTICE = """东莞市工业和信息化局
东工信〔2024〕12号
关于印发科技创新奖励办法的通知
各有关单位：
为鼓励企业开展技术创新，现将有关事项通知如下。
一、奖励标准
对获得市科技创新奖的企业给予一次性奖励，一等奖50万元，二等奖30万元。
东莞市工业和信息化局
2024年3月1日
"""


@pytest.fixture
def workdir(
    tmp_path: Path, seeds_dir: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    shutil.copytree(seeds_dir, tmp_path / "seeds")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CORPUS_DIR", "seeds")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def numbers(capsys: pytest.CaptureFixture[str]) -> set[str | None]:
    capsys.readouterr()
    assert main(["docs", "--json"]) == 0
    return {doc["doc_number"] for doc in json.loads(capsys.readouterr().out)}


def test_add_yes_previews_and_adds_the_file(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "notice.pdf").write_bytes(make_pdf(NOTICE))

    assert main(["add", "notice.pdf", "--yes"]) == 0

    out = capsys.readouterr().out
    assert "文号：东工信〔2024〕12号" in out and "已加入《notice.pdf》" in out
    assert (workdir / "seeds" / "notice.pdf").exists()
    assert "东工信〔2024〕12号" in numbers(capsys)


def test_add_without_confirmation_changes_nothing(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "notice.docx").write_bytes(make_docx(NOTICE))

    assert main(["add", "notice.docx"]) == 0  # stdin is not a terminal: no one confirmed

    assert "未加入语料库" in capsys.readouterr().out
    assert not (workdir / "seeds" / "notice.docx").exists()
    assert not list((workdir / "seeds" / ".pending").iterdir())


def test_add_refuses_a_scanned_or_too_large_file_with_exit_1(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "scan.pdf").write_bytes(make_scanned_pdf())
    assert main(["add", "scan.pdf", "--yes"]) == 1
    assert "扫描件，没有可读取的文字" in capsys.readouterr().out

    (workdir / "page.html").write_bytes(make_html(NOTICE))
    monkeypatch.setenv("MAX_UPLOAD_MB", "0.001")
    get_settings.cache_clear()
    assert main(["add", "page.html", "--yes"]) == 1
    assert "文件太大" in capsys.readouterr().out
    assert not (workdir / "seeds" / "page.html").exists()


def test_reload_reads_published_files_and_exits_1_naming_the_refused_ones(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeds = workdir / "seeds"
    (seeds / "notice.pdf").write_bytes(make_pdf(NOTICE))
    (seeds / "scan.pdf").write_bytes(make_scanned_pdf())
    (seeds / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)

    assert main(["reload"]) == 1

    out = capsys.readouterr().out
    assert "seeds/scan.pdf：扫描件，没有可读取的文字，请提供文字版或 .docx" in out
    assert "seeds/old.doc：.doc 是旧版 Word/WPS 格式" in out
    assert "新增 6" in out and "东工信〔2024〕12号" in numbers(capsys)
