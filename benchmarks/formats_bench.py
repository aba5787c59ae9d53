"""Published-file figures: extraction time, agreement with the text version, verbatim quotes.

1. Each policy text (the seeds, the reader's fixtures and, when ``../shared`` is beside the
   repository, the held-out ``shared/eval/real_dev/docs``) is printed as a PDF, a .docx and a
   web page (tests/fakes/published.py) and read back with ``retrieval.formats.extract``: the
   median time per document (and per PDF page), and how many documents give the same
   metadata and clauses as the text version (white space ignored).
2. The seeds, loaded as PDFs (then as .docx, then as web pages) into a temporary SQLite
   corpus, answer the labelled questions of ``shared/eval/dev.jsonl``; every piece of every
   excerpt (between ``……`` cuts) is looked up in the text kept with its document version
   (``retrieval.store.document_text``): the verbatim rate.

3. ``--compare`` (needs pypdf installed; it is not a dependency): the raw text of pypdf and of
   pdfplumber on the same PDFs: time per page, full-width punctuation kept, page chrome left in,
   and whether a table row stays on one line.

Usage::

    .venv/bin/python benchmarks/formats_bench.py [--json] [--compare]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.answering import AnswerService  # noqa: E402
from bot.db import create_tables, make_engine  # noqa: E402
from bot.settings import Settings  # noqa: E402
from retrieval.formats import extract  # noqa: E402
from retrieval.reader import decode_policy_bytes, parse_policy_text  # noqa: E402
from retrieval.store import document_text, load_live_corpus  # noqa: E402
from tests.fakes.published import document_shape, make_docx, make_html, make_pdf  # noqa: E402

SHARED = ROOT.parent / "shared"
MAKERS: dict[str, Callable[[str], bytes]] = {
    ".pdf": make_pdf,
    ".docx": make_docx,
    ".html": make_html,
}


def _texts() -> list[Path]:
    paths = sorted((ROOT / "seeds").glob("*.txt"))
    paths += sorted((ROOT / "tests" / "retrieval" / "fixtures").glob("*.txt"))
    real = SHARED / "eval" / "real_dev" / "docs"
    return paths + (sorted(real.iterdir()) if real.is_dir() else [])


def extraction() -> dict[str, Any]:
    """Time and agreement of reading each text published in each format."""
    results: dict[str, Any] = {}
    texts = _texts()
    for suffix, make in MAKERS.items():
        per_doc: list[float] = []
        per_page: list[float] = []
        same = 0
        for path in texts:
            text, _ = decode_policy_bytes(path.read_bytes())
            expected = parse_policy_text(text, source=path.name)
            data = make(text)
            started = time.perf_counter()
            extracted = extract(data, suffix)
            elapsed = time.perf_counter() - started
            per_doc.append(elapsed)
            per_page.append(elapsed / extracted.pages)
            document = parse_policy_text(extracted.text, source=path.name)
            same += document_shape(document) == document_shape(expected)
        results[suffix] = {
            "documents": len(texts),
            "same_as_text": same,
            "median_ms_per_document": round(statistics.median(per_doc) * 1000, 2),
            "median_ms_per_page": round(statistics.median(per_page) * 1000, 2),
        }
    return results


def verbatim() -> dict[str, Any]:
    """Quotes of answers over a corpus of published seeds, checked against the stored text."""
    questions = [
        json.loads(line)["question"]
        for line in (SHARED / "eval" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    results: dict[str, Any] = {}
    for suffix, make in MAKERS.items():
        with tempfile.TemporaryDirectory() as folder:
            corpus = Path(folder) / "corpus"
            corpus.mkdir()
            for path in sorted((ROOT / "seeds").glob("*.txt")):
                (corpus / f"{path.stem}{suffix}").write_bytes(make(path.read_text("utf-8")))
            url = f"sqlite:///{Path(folder) / 'corpus.db'}"
            engine = make_engine(url)
            create_tables(engine)
            service = AnswerService(
                engine, Settings(database_url=url, corpus_dir=corpus, _env_file=None)
            )
            live = load_live_corpus(engine)
            assert live is not None
            doc_of = {clause.id: clause.doc_key for clause in live.clauses}
            texts = {
                key: "".join((document_text(engine, key) or "").split()) for key in live.documents
            }
            pieces = found = 0
            for question in questions:
                for answer in service.answer(question).answers:
                    source = texts[doc_of[answer.passage_id]]
                    for piece in answer.excerpt.split("……"):
                        compact = "".join(piece.split())
                        if compact:
                            pieces += 1
                            found += compact in source
            engine.dispose()
        results[suffix] = {
            "pieces": pieces,
            "verbatim": found,
            "rate": found / pieces if pieces else None,
        }
    return results


def compare() -> dict[str, Any]:
    """pypdf against pdfplumber, raw text of each (before this project's layout work)."""
    import io

    import pdfplumber
    import pypdf

    from tests.fakes.published import AWARDS, NOTICE, NOTICE_TABLE_AFTER, RUNNING_HEADER

    def with_pypdf(data: bytes) -> list[str]:
        return [page.extract_text() or "" for page in pypdf.PdfReader(io.BytesIO(data)).pages]

    def with_pdfplumber(data: bytes) -> list[str]:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            return [page.extract_text() or "" for page in pdf.pages]

    punctuation = "，。；：、（）《》“”〔〕"
    documents = [decode_policy_bytes(path.read_bytes())[0] for path in _texts()]
    pdfs = [make_pdf(text) for text in documents]
    table = make_pdf(NOTICE, table=AWARDS, table_after=NOTICE_TABLE_AFTER)
    results: dict[str, Any] = {}
    for name, read in (("pypdf", with_pypdf), ("pdfplumber", with_pdfplumber)):
        per_page: list[float] = []
        kept = total = chrome = lines = paragraphs = 0
        for text, data in zip(documents, pdfs, strict=True):
            started = time.perf_counter()
            pages = read(data)
            per_page.append((time.perf_counter() - started) / len(pages))
            joined = "\n".join(pages)
            for mark in punctuation:
                total += text.count(mark)
                kept += min(text.count(mark), joined.count(mark))
            chrome += RUNNING_HEADER in joined or "- 1 -" in joined
            lines += sum(1 for line in joined.splitlines() if line.strip())
            paragraphs += sum(1 for line in text.splitlines() if line.strip())
        rows = "\n".join(read(table))
        results[name] = {
            "median_ms_per_page": round(statistics.median(per_page) * 1000, 2),
            "full_width_punctuation_kept": f"{kept}/{total}",
            "documents_with_page_chrome": f"{chrome}/{len(documents)}",
            "lines_per_paragraph": round(lines / paragraphs, 2),
            "table_row_on_one_line": any(
                "一等奖" in line and "50万元" in line for line in rows.splitlines()
            ),
        }
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--compare", action="store_true", help="pypdf against pdfplumber")
    args = parser.parse_args()
    figures = {"extraction": extraction(), "verbatim": verbatim()}
    if args.compare:
        figures["compare"] = compare()
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return 0
    for suffix, row in figures["extraction"].items():
        print(
            f"{suffix:6} {row['same_as_text']}/{row['documents']} same as text; "
            f"median {row['median_ms_per_document']} ms/document, "
            f"{row['median_ms_per_page']} ms/page"
        )
    for suffix, row in figures["verbatim"].items():
        print(
            f"{suffix:6} quotes verbatim against the stored text: {row['verbatim']}/{row['pieces']}"
        )
    for library, row in figures.get("compare", {}).items():
        print(f"{library:10} " + ", ".join(f"{key} {value}" for key, value in row.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
