"""``policybot reload`` and ``policybot docs``: swap in the corpus folder, list the live corpus.

Usage::

    policybot reload                  # re-read CORPUS_DIR, print what changed (1: a file failed)
    policybot reload --corpus DIR     # another folder
    policybot docs [--json]           # the live documents (loads CORPUS_DIR on a fresh database)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.db import create_tables, make_engine
from bot.settings import get_settings
from retrieval.corpus import message
from retrieval.store import CorpusBusyError, ensure_corpus, reload_corpus
from retrieval.types import DocumentError


def cmd_reload(args: argparse.Namespace) -> int:
    """Re-read the corpus folder and swap it in; exit 1 when any file (or the folder) failed."""
    settings = get_settings()
    corpus_dir = Path(args.corpus) if args.corpus else settings.corpus_dir
    engine = make_engine(settings.database_url)
    try:
        create_tables(engine)
        report = reload_corpus(
            engine=engine,
            corpus_dir=corpus_dir,
            max_file_bytes=settings.corpus_max_file_bytes,
        )
    except (DocumentError, CorpusBusyError) as error:
        print(f"policybot reload: {error}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    for line in report.summary_lines():
        print(line)
    return 0 if report.ok else 1


def cmd_docs(args: argparse.Namespace) -> int:
    """List the live corpus: the contract's document objects (--json) or readable blocks."""
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        create_tables(engine)
        corpus = ensure_corpus(engine=engine, corpus_dir=settings.corpus_dir)
    except (DocumentError, CorpusBusyError) as error:
        print(f"policybot docs: {error}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    documents = list(corpus.documents.values())
    if args.json:
        print(json.dumps([doc.to_json() for doc in documents], ensure_ascii=False, indent=2))
        return 0
    print(
        message(
            "docs",
            "header",
            version=corpus.version,
            documents=len(documents),
            clauses=len(corpus.clauses),
        )
    )
    missing = message("docs", "missing")
    for index, doc in enumerate(documents, start=1):
        number = doc.doc_number or message("docs", "no_number")
        print()
        print(message("docs", "document", index=index, doc_number=number))
        place = "/".join(part for part in (doc.city, doc.district) if part)
        for label, value in (
            ("title", doc.title),
            ("authority", doc.authority),
            ("recipient", doc.recipient),
            ("date", doc.date),
            ("place", place),
            ("clauses", str(doc.clause_count)),
            ("source", doc.source),
        ):
            print(message("docs", "field", label=message("docs", label), value=value or missing))
    return 0
