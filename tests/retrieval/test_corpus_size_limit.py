"""CORPUS_MAX_FILE_BYTES: a corpus file over the limit is skipped and named in Chinese, a
version of it loaded before is kept, and every other file still loads."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy.engine import Engine

from retrieval.corpus import read_files
from retrieval.store import reload_corpus

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def two_file_corpus(folder: Path) -> tuple[Path, Path]:
    small, large = sorted(SEEDS.glob("*.txt"), key=lambda path: path.stat().st_size)[:2]
    folder.mkdir()
    shutil.copy(small, folder / small.name)
    shutil.copy(large, folder / large.name)
    return folder / small.name, folder / large.name


def test_a_file_over_the_limit_is_named_and_the_rest_is_read(tmp_path: Path) -> None:
    small, large = two_file_corpus(tmp_path / "corpus")
    limit = large.stat().st_size - 1
    assert small.stat().st_size <= limit
    read = read_files(tmp_path / "corpus", max_file_bytes=limit)
    assert [Path(doc.source).name for doc in read.documents] == [small.name]
    [failure] = read.failures
    assert Path(failure.path).name == large.name
    assert "文件太大" in failure.reason and "CORPUS_MAX_FILE_BYTES" in failure.reason
    unlimited = read_files(tmp_path / "corpus")
    assert len(unlimited.documents) == 2 and not unlimited.failures


def test_reload_skips_the_large_file_keeps_its_old_version_and_says_so(
    tmp_path: Path, db_engine: Engine
) -> None:
    small, large = two_file_corpus(tmp_path / "corpus")
    first = reload_corpus(engine=db_engine, corpus_dir=tmp_path / "corpus")
    assert first.ok
    large.write_text(large.read_text("utf-8") + "\n附件：补充说明。", "utf-8")
    report = reload_corpus(
        engine=db_engine, corpus_dir=tmp_path / "corpus", max_file_bytes=small.stat().st_size
    )
    text = "\n".join(report.summary_lines())
    assert not report.ok
    assert large.name in text and "文件太大" in text
    assert [Path(kept).name for kept in report.kept] == [large.name]  # its last version serves
    assert small.name not in "".join(report.kept)
