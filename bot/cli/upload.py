"""``policybot add FILE``: preview a policy file as the chat does, then add it to CORPUS_DIR.

Usage::

    policybot add 通知.pdf          # preview, then asks 加入语料库？[y/N] in a terminal
    policybot add 通知.pdf --yes    # preview and add without asking

Exit 0 when the file was added (or, without confirmation, left out); 1 when it cannot be read,
is too large, or the reload refused it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.db import create_tables, make_engine
from bot.settings import get_settings
from bot.texts import say
from bot.uploads import Uploads
from retrieval.store import StoredDocument, load_live_corpus, reload_corpus


def cmd_add(args: argparse.Namespace) -> int:
    """Preview ``args.file``; add it with ``--yes`` or when confirmed in a terminal."""
    settings = get_settings()
    path = Path(args.file)
    engine = make_engine(settings.database_url)
    try:
        create_tables(engine)
        corpus_dir = Path(settings.corpus_dir)
        uploads = Uploads(
            settings,
            reload=lambda: reload_corpus(
                engine=engine,
                corpus_dir=corpus_dir,
                max_file_bytes=settings.corpus_max_file_bytes,
            ),
            documents=lambda: _live_documents(engine),
        )
        try:
            refusal = uploads.too_large(path.stat().st_size)
            data = path.read_bytes() if refusal is None else b""
        except OSError as error:
            print(f"policybot add: {path}: {error.strerror or error}", file=sys.stderr)
            return 1
        preview = refusal or uploads.receive(path.name, data)
        print(preview.plain_text())
        if preview.kind != "preview":
            return 1
        token = preview.buttons[0].command.rsplit(" ", 1)[-1]
        if not args.yes and not _confirmed():
            uploads.cancel(token)
            print(say("upload", "cli_not_added"))
            return 0
        added = uploads.add(token)
        print(added.plain_text())
        return 0 if added.kind == "command" else 1
    finally:
        engine.dispose()


def _live_documents(engine: Engine) -> list[StoredDocument]:
    corpus = load_live_corpus(engine)
    return list(corpus.documents.values()) if corpus is not None else []


def _confirmed() -> bool:
    if not sys.stdin.isatty():
        return False
    try:
        return input(say("upload", "cli_confirm")).strip().lower() in {"y", "yes", "是"}
    except EOFError:
        return False
