"""Reading a corpus folder: every policy file in it, each failure named with its reason.

Policy files are ``.txt``/``.md`` and what :mod:`retrieval.formats` reads (PDF, Word, web
pages); ``.doc``/``.wps`` are listed too, so that they fail with a message instead of being
skipped.

One bad file never stops the others: its :class:`DocumentError` goes into the result and the
store decides what to keep. Only a folder that cannot serve as a corpus at all (missing,
unreadable, without policy files) raises, because then there is nothing to compare or swap.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath

from retrieval.formats import REFUSED_SUFFIXES, SUFFIXES, format_rank
from retrieval.messages import message
from retrieval.types import DocumentError, ParsedDocument

__all__ = [
    "POLICY_SUFFIXES",
    "CorpusRead",
    "document_key",
    "message",
    "read_corpus",
    "read_files",
    "reject_duplicates",
]

POLICY_SUFFIXES = frozenset({".txt", ".md"}) | SUFFIXES | REFUSED_SUFFIXES
_log = logging.getLogger(__name__)


def document_key(source: str | PurePath) -> str:
    """A document's identity across reloads: its file name (not the folder it was read from)."""
    return PurePath(source).name


@dataclass(frozen=True, slots=True)
class CorpusRead:
    """What one pass over a folder produced: documents read, files that failed, files ignored."""

    corpus_dir: Path
    documents: list[ParsedDocument] = field(default_factory=list)
    failures: list[DocumentError] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # names of non-policy files, not read

    @property
    def failed_keys(self) -> set[str]:
        return {document_key(failure.path) for failure in self.failures}


def read_corpus(
    corpus_dir: Path,
    *,
    loaded: Mapping[str, str | None] | None = None,
    max_file_bytes: int | None = None,
) -> CorpusRead:
    """Read every policy file of ``corpus_dir`` and reject duplicate document numbers.

    ``loaded`` maps the file names of the live corpus to their doc_number; it decides which of
    two files sharing a number is kept (see :func:`reject_duplicates`). Raises DocumentError
    naming the folder when it is missing, unreadable or holds no policy file.
    """
    return reject_duplicates(read_files(corpus_dir, max_file_bytes=max_file_bytes), loaded or {})


def read_files(corpus_dir: Path, *, max_file_bytes: int | None = None) -> CorpusRead:
    """Read each policy file of ``corpus_dir`` (sorted by name, not recursive).

    A file larger than ``max_file_bytes`` is not read (a stray 2 GB scan would hold the reload
    and its memory): it becomes a failure naming its size and the limit, like an unreadable
    file, so a version of it loaded before is kept and every other file still loads.

    Duplicates are not checked here: the store checks them against the corpus live at the
    moment it swaps. Other files are listed in ``ignored``; hidden files are skipped silently.
    The source of each document is the path as given (``seeds/000_….txt`` for ``seeds``).
    """
    policy_files, ignored = _list_folder(corpus_dir)
    from retrieval.reader import read_document  # loaded on first use: create_tables needs no reader

    documents: list[ParsedDocument] = []
    failures: list[DocumentError] = []
    for path in policy_files:
        source = path.as_posix()
        try:
            _check_size(path, max_file_bytes)
            documents.append(read_document(path, source=source))
        except DocumentError as error:
            failures.append(DocumentError(source, error.reason))
        except OSError as error:
            reason = error.strerror or str(error)
            failures.append(
                DocumentError(source, message("errors", "file_unreadable", error=reason))
            )
        except Exception as error:  # a reader bug on one file must not stop the whole reload
            _log.exception("reading %s failed", source)
            detail = f"{type(error).__name__}: {error}"
            failures.append(DocumentError(source, message("errors", "reader_failed", error=detail)))
    return CorpusRead(corpus_dir, documents, failures, ignored)


def _check_size(path: Path, max_file_bytes: int | None) -> None:
    if max_file_bytes is None:
        return
    size = path.stat().st_size
    if size > max_file_bytes:
        limit = _megabytes(max_file_bytes)
        reason = message("errors", "file_too_large", size=_megabytes(size), limit=limit)
        raise DocumentError(path.as_posix(), reason)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".rstrip("0").rstrip(".") + " MB"


def _list_folder(corpus_dir: Path) -> tuple[list[Path], list[str]]:
    if not corpus_dir.exists():
        raise DocumentError(corpus_dir, message("errors", "folder_missing"))
    if not corpus_dir.is_dir():
        raise DocumentError(corpus_dir, message("errors", "not_a_folder"))
    try:
        entries = sorted(corpus_dir.iterdir(), key=lambda entry: entry.name)
    except OSError as error:
        reason = error.strerror or str(error)
        raise DocumentError(
            corpus_dir, message("errors", "folder_unreadable", error=reason)
        ) from error
    policy_files: list[Path] = []
    ignored: list[str] = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.suffix.lower() in POLICY_SUFFIXES and entry.is_file():
            policy_files.append(entry)
        else:
            ignored.append(entry.name + ("/" if entry.is_dir() else ""))
    if not policy_files:
        raise DocumentError(corpus_dir, message("errors", "no_policy_files"))
    return policy_files, ignored


def reject_duplicates(read: CorpusRead, loaded: Mapping[str, str | None]) -> CorpusRead:
    """Keep one file per doc_number; the others become failures naming both files.

    Which file wins, so that a reload never silently replaces a document people rely on:

    1. a file that fails now but was loaded before with that number (it keeps its last good
       version, so the number is taken);
    2. else the file that held that number in the live corpus (``loaded``);
    3. else the file whose name sorts first.

    A rejected file that was loaded before keeps its last good version (under its old number),
    which may in turn clash with another file, so this repeats until nothing changes.
    """
    documents, alternates = _one_format_each(read.documents)
    failures = list(read.failures)
    sources = {document_key(doc.source): doc.source for doc in documents}
    sources.update({document_key(failure.path): failure.path for failure in failures})
    # doc_number -> key of a file that keeps its last good version under that number
    kept_numbers = _kept_numbers({document_key(f.path) for f in failures}, loaded)
    while True:
        holders: dict[str, list[ParsedDocument]] = defaultdict(list)
        for doc in documents:
            if doc.doc_number:
                holders[doc.doc_number].append(doc)
        rejected: list[tuple[ParsedDocument, str]] = []
        for number, docs in holders.items():
            kept_key = kept_numbers.get(number)
            if kept_key is not None:
                winner = sources.get(kept_key, kept_key)
                losers = docs
            elif len(docs) > 1:
                ranked = sorted(
                    docs,
                    key=lambda doc: (loaded.get(document_key(doc.source)) != number, doc.source),
                )
                winner, losers = ranked[0].source, ranked[1:]
            else:
                continue
            rejected.extend((doc, winner) for doc in losers)
        if not rejected:
            break
        for doc, winner in rejected:
            documents.remove(doc)
            reason = message("errors", "duplicate_number", doc_number=doc.doc_number, other=winner)
            failures.append(DocumentError(doc.source, reason))
        kept_numbers = _kept_numbers({document_key(f.path) for f in failures}, loaded)
    order = {source: index for index, source in enumerate(sorted(sources.values()))}
    failures.sort(key=lambda failure: order.get(failure.path, len(order)))
    return replace(
        read, documents=documents, failures=failures, ignored=[*read.ignored, *alternates]
    )


def _one_format_each(documents: list[ParsedDocument]) -> tuple[list[ParsedDocument], list[str]]:
    """One document per 文号 among files of different formats (a .pdf and a .docx of it).

    The preferred format is kept (``[preference]`` of formats.toml); the others are listed as
    ignored, naming the file kept. Two files of one format sharing a number stay duplicates.
    """
    best: dict[str, ParsedDocument] = {}
    for doc in documents:
        if doc.doc_number:
            kept = best.get(doc.doc_number)
            if kept is None or format_rank(doc.source) < format_rank(kept.source):
                best[doc.doc_number] = doc
    kept_docs: list[ParsedDocument] = []
    alternates: list[str] = []
    for doc in documents:
        winner = best.get(doc.doc_number or "")
        if winner is None or doc is winner or format_rank(doc.source) == format_rank(winner.source):
            kept_docs.append(doc)
        else:
            alternates.append(
                message("summary", "alternate", file=document_key(doc.source), kept=winner.source)
            )
    return kept_docs, alternates


def _kept_numbers(failed_keys: set[str], loaded: Mapping[str, str | None]) -> dict[str, str]:
    return {number: key for key in sorted(failed_keys) if (number := loaded.get(key)) is not None}
