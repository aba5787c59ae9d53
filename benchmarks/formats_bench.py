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

Usage::

    .venv/bin/python benchmarks/formats_bench.py [--json]
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = {"extraction": extraction(), "verbatim": verbatim()}
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
