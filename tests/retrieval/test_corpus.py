"""Reading a corpus folder: every policy file, each failure named, duplicates resolved."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from retrieval.corpus import CorpusRead, read_corpus, reject_duplicates
from retrieval.store import (
    ensure_corpus,
    live_version,
    load_live_corpus,
    reload_corpus,
)
from retrieval.types import DocumentError, ParsedDocument

SEED_NUMBERS = {
    "000_c9113a1d546cd539.txt": "东工信函〔2021〕134号",
    "001_bd8b0df8f42f7b73.txt": "东工信函〔2021〕169号",
    "002_1815a8eff367fdb9.txt": "中工信函〔2023〕59号",
    "003_d41223bd964af659.txt": None,
    "004_cb9593369f0fccb6.txt": None,
}

# each bad input, as the bytes of one file
BAD_FILES = {
    "empty": b"",
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" * 20,
    "undecodable": "政策补贴说明".encode() + b"\x80\xff" * 80,  # neither UTF-8 nor GB18030
    "no_text": b"---\n\n***\n\n===\n\n   \n",
}


def doc(source: str, doc_number: str | None) -> ParsedDocument:
    return ParsedDocument(
        source=source,
        doc_number=doc_number,
        title="标题",
        authority=None,
        recipient=None,
        date=None,
        city=None,
        district=None,
    )


@pytest.fixture
def corpus_copy(tmp_path: Path, seeds_dir: Path) -> Path:
    """A writable copy of the seeds."""
    folder = tmp_path / "corpus"
    shutil.copytree(seeds_dir, folder)
    for path in folder.iterdir():
        path.chmod(0o644)
    return folder


# ------------------------------------------------------------------- duplicates (no reader)


def test_duplicate_of_a_new_pair_keeps_the_earlier_name() -> None:
    read = CorpusRead(
        Path("c"), [doc("c/a.txt", "X号"), doc("c/b.txt", "X号"), doc("c/c.txt", None)]
    )

    resolved = reject_duplicates(read, loaded={})

    assert [d.source for d in resolved.documents] == ["c/a.txt", "c/c.txt"]
    [failure] = resolved.failures
    assert failure.path == "c/b.txt"
    assert "X号" in failure.reason and "c/a.txt" in failure.reason  # both files named


def test_duplicate_keeps_the_file_that_held_the_number_before() -> None:
    read = CorpusRead(Path("c"), [doc("c/a.txt", "X号"), doc("c/b.txt", "X号")])

    resolved = reject_duplicates(read, loaded={"b.txt": "X号", "a.txt": "Y号"})

    assert [d.source for d in resolved.documents] == ["c/b.txt"]
    assert [f.path for f in resolved.failures] == ["c/a.txt"]
    assert "c/b.txt" in resolved.failures[0].reason


def test_duplicate_of_a_kept_document_rejects_the_newcomer_in_a_chain() -> None:
    # a.txt fails now but keeps "X号"; b.txt now claims X号 and is rejected, so b.txt keeps
    # its old "Y号", which c.txt now claims: c.txt is rejected too.
    read = CorpusRead(
        Path("c"),
        [doc("c/b.txt", "X号"), doc("c/c.txt", "Y号")],
        failures=[DocumentError("c/a.txt", "文件为空")],
    )

    resolved = reject_duplicates(read, loaded={"a.txt": "X号", "b.txt": "Y号"})

    assert resolved.documents == []
    assert [f.path for f in resolved.failures] == ["c/a.txt", "c/b.txt", "c/c.txt"]
    assert "c/a.txt" in resolved.failures[1].reason
    assert "c/b.txt" in resolved.failures[2].reason


# ----------------------------------------------------------------------- the folder itself


def test_missing_folder_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DocumentError) as caught:
        read_corpus(missing)
    assert caught.value.path == str(missing)
    assert caught.value.reason == "文件夹不存在"


def test_folder_without_policy_files_is_named(tmp_path: Path) -> None:
    (tmp_path / "notes.xlsx").write_bytes(b"PK\x03\x04")
    with pytest.raises(DocumentError) as caught:
        read_corpus(tmp_path)
    assert caught.value.path == str(tmp_path)
    assert caught.value.reason == "文件夹里没有政策文件（.txt、.md、.pdf、.docx、.html）"


def test_a_file_given_as_folder_is_named(tmp_path: Path) -> None:
    file = tmp_path / "a.txt"
    file.write_text("东莞市工业和信息化局", encoding="utf-8")
    with pytest.raises(DocumentError, match="不是文件夹"):
        read_corpus(file)


# ------------------------------------------------------------------ through the real reader


def test_seeds_read_with_sources_as_given(seeds_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(seeds_dir.parent)

    read = read_corpus(Path("seeds"))

    assert read.failures == [] and read.ignored == []
    assert [d.source for d in read.documents] == [f"seeds/{name}" for name in SEED_NUMBERS]
    assert {Path(d.source).name: d.doc_number for d in read.documents} == SEED_NUMBERS
    assert all(d.clauses for d in read.documents)


def test_other_files_are_ignored_and_listed(corpus_copy: Path) -> None:
    (corpus_copy / "notes.xlsx").write_bytes(b"PK\x03\x04")
    (corpus_copy / "old").mkdir()
    (corpus_copy / "old" / "x.txt").write_text("不读子文件夹", encoding="utf-8")
    (corpus_copy / ".DS_Store").write_bytes(b"\x00\x01")

    read = read_corpus(corpus_copy)

    assert len(read.documents) == 5 and read.failures == []
    assert read.ignored == ["notes.xlsx", "old/"]


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_each_bad_file_is_reported_and_the_rest_read(corpus_copy: Path, kind: str) -> None:
    bad = corpus_copy / f"005_{kind}.txt"
    bad.write_bytes(BAD_FILES[kind])

    read = read_corpus(corpus_copy)

    assert len(read.documents) == 5
    [failure] = read.failures
    assert failure.path == bad.as_posix()
    assert failure.reason.strip()
    assert str(failure).startswith(bad.as_posix())


def test_duplicate_seed_is_reported_with_both_files(corpus_copy: Path) -> None:
    shutil.copy(corpus_copy / "001_bd8b0df8f42f7b73.txt", corpus_copy / "009_copy.txt")

    read = read_corpus(corpus_copy)

    assert len(read.documents) == 5
    [failure] = read.failures
    assert failure.path == (corpus_copy / "009_copy.txt").as_posix()
    assert "东工信函〔2021〕169号" in failure.reason
    assert "001_bd8b0df8f42f7b73.txt" in failure.reason


def test_a_reader_crash_on_one_file_is_a_failure_not_a_crash(
    corpus_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import retrieval.reader as reader

    real = reader.read_document

    def fragile(path: Path, *, source: str | None = None) -> ParsedDocument:
        if path.name.startswith("003"):
            raise ValueError("unexpected layout")
        return real(path, source=source)

    monkeypatch.setattr(reader, "read_document", fragile)

    read = read_corpus(corpus_copy)

    assert len(read.documents) == 4
    assert [(Path(f.path).name, f.reason) for f in read.failures] == [
        ("003_d41223bd964af659.txt", "读取时出错：ValueError: unexpected layout")
    ]


# ------------------------------------------------------------- folder reloads into the store


def test_reload_of_the_seeds_then_unchanged(db_engine: Engine, seeds_dir: Path) -> None:
    first = reload_corpus(engine=db_engine, corpus_dir=seeds_dir)

    assert first.ok and first.swapped and first.version == 1
    assert len(first.documents_added) == 5
    assert first.clauses_added == first.clauses_total > 0

    again = reload_corpus(engine=db_engine, corpus_dir=seeds_dir)

    assert again.ok and not again.swapped and again.version == 1
    assert (len(again.documents_added), len(again.documents_changed)) == (0, 0)
    assert (len(again.documents_removed), len(again.documents_unchanged)) == (0, 5)
    assert (again.clauses_added, again.clauses_changed, again.clauses_removed) == (0, 0, 0)


def test_changed_removed_and_added_files(db_engine: Engine, corpus_copy: Path) -> None:
    reload_corpus(engine=db_engine, corpus_dir=corpus_copy)
    before = load_live_corpus(db_engine)
    assert before is not None
    changed = corpus_copy / "000_c9113a1d546cd539.txt"
    text = changed.read_text(encoding="utf-8")
    assert "15 条具体的政策措施" in text
    changed.write_text(text.replace("15 条具体的政策措施", "16 条具体的政策措施"), encoding="utf-8")
    removed = corpus_copy / "003_d41223bd964af659.txt"
    removed_clauses = before.documents[removed.name].clause_count
    removed.unlink()
    added = corpus_copy / "005_gbk.txt"
    added.write_bytes(
        "中山市工业和信息化局\n\n中工信函〔2024〕7号\n\n关于支持企业技术改造的通知\n\n各有关企业：\n\n"
        "一、支持技术改造。对符合条件的技术改造项目，按设备投资额的 10% 给予补助。\n\n"
        "二、支持数字化转型。对上云企业给予一次性奖励。\n\n"
        "中山市工业和信息化局\n\n2024年3月1日\n".encode("gb18030")
    )

    report = reload_corpus(engine=db_engine, corpus_dir=corpus_copy)

    assert report.ok and report.swapped and report.version == 2
    assert [r.source for r in report.documents_changed] == [changed.as_posix()]
    assert [r.source for r in report.documents_removed] == [removed.as_posix()]
    assert [(r.source, r.doc_number) for r in report.documents_added] == [
        (added.as_posix(), "中工信函〔2024〕7号")
    ]
    assert len(report.documents_unchanged) == 3
    assert report.clauses_changed == 1
    assert report.clauses_removed == removed_clauses
    after = load_live_corpus(db_engine)
    assert after is not None
    assert report.clauses_added == after.documents[added.name].clause_count
    unchanged_before = [c for c in before.clauses if c.doc_key.startswith(("001", "002", "004"))]
    unchanged_after = [c for c in after.clauses if c.doc_key.startswith(("001", "002", "004"))]
    assert unchanged_after == unchanged_before  # same ids, texts, order


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_file_that_was_loaded_keeps_its_last_good_version(
    db_engine: Engine, corpus_copy: Path, kind: str
) -> None:
    reload_corpus(engine=db_engine, corpus_dir=corpus_copy)
    before = load_live_corpus(db_engine)
    assert before is not None
    broken = corpus_copy / "002_1815a8eff367fdb9.txt"
    broken.write_bytes(BAD_FILES[kind])

    report = reload_corpus(engine=db_engine, corpus_dir=corpus_copy)

    assert not report.ok
    assert [f.file for f in report.failures] == [broken.as_posix()]
    assert report.kept == [broken.as_posix()]
    assert report.documents_removed == []
    after = load_live_corpus(db_engine)
    assert after is not None
    assert after.documents == before.documents
    assert after.clauses == before.clauses  # same ids: answers already cited stay valid


def test_missing_folder_leaves_the_live_corpus(db_engine: Engine, corpus_copy: Path) -> None:
    reload_corpus(engine=db_engine, corpus_dir=corpus_copy)
    before = load_live_corpus(db_engine)

    with pytest.raises(DocumentError, match="文件夹不存在"):
        reload_corpus(engine=db_engine, corpus_dir=corpus_copy / "gone")

    assert live_version(db_engine) == 1
    assert load_live_corpus(db_engine) == before


def test_ensure_corpus_loads_a_fresh_database_once(db_engine: Engine, seeds_dir: Path) -> None:
    first = ensure_corpus(engine=db_engine, corpus_dir=seeds_dir)
    second = ensure_corpus(engine=db_engine, corpus_dir=seeds_dir / "ignored-when-loaded")

    assert first.version == 1 and len(first.documents) == 5
    assert second == first


def test_ensure_corpus_without_any_loadable_file_says_why(
    db_engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "a.txt").write_bytes(b"")

    with pytest.raises(DocumentError) as caught:
        ensure_corpus(engine=db_engine, corpus_dir=tmp_path)

    assert "a.txt" in str(caught.value)
    assert live_version(db_engine) is None
