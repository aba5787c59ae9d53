"""A corpus folder of published files: read, refused per file, one per 文号, text stored."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from retrieval.formats import extract
from retrieval.reader import verbatim_key
from retrieval.store import document_text, load_live_corpus, reload_corpus
from tests.fakes.published import (
    make_docx,
    make_html,
    make_pdf,
    make_scanned_pdf,
    verbatim_pieces,
)

SEED_134 = "000_c9113a1d546cd539.txt"  # 东工信函〔2021〕134号
SEED_169 = "001_bd8b0df8f42f7b73.txt"  # 东工信函〔2021〕169号
SEED_59 = "002_1815a8eff367fdb9.txt"  # 中工信函〔2023〕59号


@pytest.fixture
def corpus(tmp_path: Path, seeds_dir: Path) -> Path:
    """Seed 134 as text, 169 as PDF, 59 as a web page, the others as Word files."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for path in sorted(seeds_dir.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        if path.name == SEED_134:
            shutil.copy(path, folder / path.name)
        elif path.name == SEED_169:
            (folder / f"{path.stem}.pdf").write_bytes(make_pdf(text))
        elif path.name == SEED_59:
            (folder / f"{path.stem}.html").write_bytes(make_html(text))
        else:
            (folder / f"{path.stem}.docx").write_bytes(make_docx(text))
    return folder


def test_a_folder_of_published_files_loads_with_its_text_kept(
    db_engine: Engine, corpus: Path, seeds_dir: Path
) -> None:
    report = reload_corpus(engine=db_engine, corpus_dir=corpus)

    assert report.ok and report.failures == []
    live = load_live_corpus(db_engine)
    assert live is not None
    numbers = {doc.key: doc.doc_number for doc in live.documents.values()}
    assert numbers["001_bd8b0df8f42f7b73.pdf"] == "东工信函〔2021〕169号"
    assert numbers["002_1815a8eff367fdb9.html"] == "中工信函〔2023〕59号"
    pdf_text = document_text(db_engine, "001_bd8b0df8f42f7b73.pdf")
    assert pdf_text == extract((corpus / "001_bd8b0df8f42f7b73.pdf").read_bytes(), ".pdf").text
    for key in live.documents:
        stored = verbatim_key(document_text(db_engine, key) or "")
        clauses = [clause for clause in live.clauses if clause.doc_key == key]
        assert clauses
        for clause in clauses:
            assert all(piece in stored for piece in verbatim_pieces(clause.text, clause.seams))
    text_version = reload_corpus(engine=db_engine, corpus_dir=seeds_dir)
    assert text_version.clauses_total == report.clauses_total


def test_refused_files_are_named_and_the_rest_loads_and_nothing_live_is_lost(
    db_engine: Engine, corpus: Path
) -> None:
    assert reload_corpus(engine=db_engine, corpus_dir=corpus).ok
    before = load_live_corpus(db_engine)
    assert before is not None
    pdf = corpus / "001_bd8b0df8f42f7b73.pdf"
    pdf.write_bytes(pdf.read_bytes()[:3000])  # the live PDF is damaged
    (corpus / "010_scan.pdf").write_bytes(make_scanned_pdf())
    (corpus / "011_secret.pdf").write_bytes(make_pdf("东莞市工业和信息化局", password="x"))
    (corpus / "012_old.doc").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    (corpus / "013_old.wps").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)

    report = reload_corpus(engine=db_engine, corpus_dir=corpus)

    assert not report.ok
    reasons = {Path(failure.file).name: failure.reason for failure in report.failures}
    assert reasons == {
        "001_bd8b0df8f42f7b73.pdf": "文件损坏或不是有效的 PDF 文件，无法打开",
        "010_scan.pdf": "扫描件，没有可读取的文字，请提供文字版或 .docx",
        "011_secret.pdf": "PDF 设有密码（加密），无法读取，请提供未加密的 PDF 或 .docx",
        "012_old.doc": reasons["012_old.doc"],
        "013_old.wps": reasons["013_old.wps"],
    }
    assert "另存为 .docx" in reasons["012_old.doc"] and ".wps" in reasons["013_old.wps"]
    after = load_live_corpus(db_engine)
    assert after is not None and after.documents.keys() == before.documents.keys()
    assert [c.text for c in after.clauses] == [c.text for c in before.clauses]
    assert document_text(db_engine, "001_bd8b0df8f42f7b73.pdf")  # its last good text is kept


def test_one_document_in_two_formats_is_one_document(db_engine: Engine, corpus: Path) -> None:
    text = (corpus / SEED_134).read_text(encoding="utf-8")
    (corpus / "134.pdf").write_bytes(make_pdf(text))
    (corpus / "134.docx").write_bytes(make_docx(text))

    report = reload_corpus(engine=db_engine, corpus_dir=corpus)

    assert report.ok and report.documents_total == 5
    live = load_live_corpus(db_engine)
    assert live is not None
    holders = [d.key for d in live.documents.values() if d.doc_number == "东工信函〔2021〕134号"]
    assert holders == ["134.docx"]
    assert any(item.startswith("134.pdf（与") for item in report.ignored)
    assert any(item.startswith(f"{SEED_134}（与") for item in report.ignored)
