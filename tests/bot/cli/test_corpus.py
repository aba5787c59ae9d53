"""``policybot reload`` and ``policybot docs`` through ``bot.cli.main``, on both databases."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import get_settings
from tests.fakes.published import NOTICE, make_docx, make_html, make_pdf, make_scanned_pdf

DOCUMENT_KEYS = {
    "doc_number",
    "title",
    "authority",
    "recipient",
    "date",
    "city",
    "district",
    "source",
    "clauses",
}
BAD_FILES = {
    "empty": b"",
    "binary": b"\x00\x01\x02\x03GIF89a\x00\x00" * 30,
    "undecodable": "补贴".encode() + b"\x80\xff" * 80,  # neither UTF-8 nor GB18030
    "no_text": b"---\n\n***\n\n===\n",
}


@pytest.fixture
def workdir(
    tmp_path: Path, seeds_dir: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A folder holding a copy of the seeds as ``seeds/``, with the settings pointing at it."""
    shutil.copytree(seeds_dir, tmp_path / "seeds")
    for path in (tmp_path / "seeds").iterdir():
        path.chmod(0o644)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CORPUS_DIR", "seeds")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_reload_prints_the_changes_and_exits_0(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reload"]) == 0
    first = capsys.readouterr().out
    assert first.startswith("语料库已载入：版本 1")
    assert "新增 5" in first and "seeds/000_c9113a1d546cd539.txt（东工信函〔2021〕134号）" in first

    assert main(["reload"]) == 0
    again = capsys.readouterr().out
    assert again.startswith("语料库没有变化，仍为版本 1")
    assert "新增 0，更新 0，删除 0，未变 5" in again


def test_reload_with_another_folder(
    workdir: Path, seeds_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = workdir / "other"
    other.mkdir()
    shutil.copy(seeds_dir / "002_1815a8eff367fdb9.txt", other)

    assert main(["reload", "--corpus", "other"]) == 0

    out = capsys.readouterr().out
    assert "other/002_1815a8eff367fdb9.txt（中工信函〔2023〕59号）" in out
    assert main(["docs", "--json"]) == 0
    [document] = json.loads(capsys.readouterr().out)
    assert document["source"] == "other/002_1815a8eff367fdb9.txt"


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_reload_names_a_bad_file_and_exits_1(
    workdir: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "seeds" / f"005_{kind}.txt").write_bytes(BAD_FILES[kind])

    assert main(["reload"]) == 1

    captured = capsys.readouterr()
    assert "1 个文件读取失败：" in captured.out
    [failure_line] = [line for line in captured.out.splitlines() if f"005_{kind}.txt" in line]
    assert failure_line.startswith(f"  seeds/005_{kind}.txt：")
    assert len(failure_line) > len(f"  seeds/005_{kind}.txt：")  # a reason follows
    assert "Traceback" not in captured.out + captured.err


def test_reload_reports_a_duplicate_number_with_both_files(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeds = workdir / "seeds"
    shutil.copy(seeds / "000_c9113a1d546cd539.txt", seeds / "010_again.txt")

    assert main(["reload"]) == 1

    out = capsys.readouterr().out
    [line] = [line for line in out.splitlines() if "010_again.txt" in line]
    assert "东工信函〔2021〕134号" in line and "seeds/000_c9113a1d546cd539.txt" in line


def test_reload_of_a_missing_folder_exits_1_with_a_message(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reload", "--corpus", "nowhere"]) == 1

    captured = capsys.readouterr()
    assert captured.err.strip() == "policybot reload: nowhere: 文件夹不存在"
    assert "Traceback" not in captured.out + captured.err


def test_a_bad_file_keeps_its_last_good_version_through_the_cli(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reload"]) == 0
    assert main(["docs", "--json"]) == 0
    capsys.readouterr()
    (workdir / "seeds" / "001_bd8b0df8f42f7b73.txt").write_bytes(b"")

    assert main(["reload"]) == 1
    out = capsys.readouterr().out
    assert "保留上次的版本：seeds/001_bd8b0df8f42f7b73.txt" in out

    assert main(["docs", "--json"]) == 0
    numbers = [d["doc_number"] for d in json.loads(capsys.readouterr().out)]
    assert "东工信函〔2021〕169号" in numbers and len(numbers) == 5


def test_docs_json_on_a_fresh_database(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["docs", "--json"]) == 0

    out = capsys.readouterr().out
    assert "东工信函" in out  # ensure_ascii=False: Chinese as is
    documents = json.loads(out)
    assert [d["source"] for d in documents] == [
        "seeds/000_c9113a1d546cd539.txt",
        "seeds/001_bd8b0df8f42f7b73.txt",
        "seeds/002_1815a8eff367fdb9.txt",
        "seeds/003_d41223bd964af659.txt",
        "seeds/004_cb9593369f0fccb6.txt",
    ]
    assert all(set(d) >= DOCUMENT_KEYS for d in documents)  # contract keys, then extensions
    assert all({"province", "level", "title_source", "missing"} <= set(d) for d in documents)
    first = documents[0]
    assert first["doc_number"] == "东工信函〔2021〕134号"
    assert first["authority"] == "东莞市工业和信息化局"
    assert first["date"] == "2021-06-09"
    assert first["city"] == "东莞" and first["district"] is None
    assert isinstance(first["clauses"], int) and first["clauses"] > 0
    assert documents[3]["doc_number"] is None and documents[3]["district"] == "宝安区"


def test_docs_plain_lists_every_document_with_its_metadata(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["docs"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("语料库版本 1：5 份文件，")
    assert lines[2] == "[1] 东工信函〔2021〕134号"
    assert "    发文机关：东莞市工业和信息化局" in lines[3:11]
    assert "    日期：2021-06-09" in lines[3:11]
    assert "    来源：seeds/000_c9113a1d546cd539.txt" in lines[3:11]
    assert "[2] 东工信函〔2021〕169号" in lines
    assert "[4] （无文号）" in lines
    assert "    地区：深圳/宝安区" in lines


def test_docs_without_a_loadable_corpus_exits_1(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CORPUS_DIR", "nowhere")
    get_settings.cache_clear()

    assert main(["docs"]) == 1

    assert capsys.readouterr().err.strip() == "policybot docs: nowhere: 文件夹不存在"


# ------------------------------------------ published files: reload and policybot add


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
