"""Adding a policy file from the chat or the terminal, and taking one out (``/remove 文号``).

An admin sends a file (or runs ``policybot add FILE``): it is read as the corpus reader reads
it and shown as a preview (metadata, clauses, warnings) with buttons to add it or cancel.
Until then it waits in ``CORPUS_DIR/.pending/`` (hidden: reloads skip it), so a confirmation
works from any process. Adding moves it into ``CORPUS_DIR`` and reloads as ``/reload`` does;
a file the bot cannot read changes nothing. Nothing is deleted: a replaced file goes to
``.replaced/``, a removed one to ``.removed/``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from bot.settings import Settings
from bot.texts import say, texts
from bot.types import Button, Incoming, Reply
from retrieval.corpus import POLICY_SUFFIXES, document_key, read_files
from retrieval.formats import REFUSED_SUFFIXES
from retrieval.store import ReloadReport, StoredDocument
from retrieval.types import DocumentError, ParsedDocument

__all__ = ["PENDING_DIR", "Uploads", "human_size"]

logger = logging.getLogger(__name__)

PENDING_DIR = ".pending"
REPLACED_DIR = ".replaced"
REMOVED_DIR = ".removed"
PREVIEW_CLAUSES = 3
PREVIEW_CLAUSE_CHARS = 60
_TOKEN_CHARS = 16
_UNSAFE_NAME_CHARS = '/\\:*?"<>|\x00'


def human_size(size: int) -> str:
    """``20 MB``, ``512 KB``: how a size is told to people."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f}".rstrip("0").rstrip(".") + " MB"
    return f"{max(size // 1024, 1)} KB"


def _safe_name(name: str) -> str:
    """The file name alone, without path parts or characters file systems refuse."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip().lstrip(".")
    return "".join("_" if char in _UNSAFE_NAME_CHARS or ord(char) < 32 else char for char in base)


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")


class Uploads:
    """The admin's file dialogue; ``reload`` re-reads CORPUS_DIR and swaps it in."""

    def __init__(
        self,
        settings: Settings,
        *,
        reload: Callable[[], ReloadReport],
        documents: Callable[[], Sequence[StoredDocument]],
    ) -> None:
        self._settings = settings
        self._reload = reload
        self._documents = documents

    @property
    def corpus_dir(self) -> Path:
        return Path(self._settings.corpus_dir)

    # ------------------------------------------------------------------ adding

    def too_large(self, size: int | None) -> Reply | None:
        """The refusal for a file over the size limit (MAX_UPLOAD_MB), or None."""
        limit = self._settings.max_upload_bytes
        if size is None or size <= limit:
            return None
        text = say("upload", "too_large", size=human_size(size), limit=human_size(limit))
        return Reply(text=[text], kind="invalid")

    async def fetch_attachment(self, incoming: Incoming) -> Incoming | Reply:
        """Download an admin's file through the channel's fetcher, refusing one too large first."""
        attachment = incoming.attachment
        assert attachment is not None
        if (refusal := self.too_large(attachment.size)) is not None:
            return refusal
        if attachment.data is not None or attachment.fetch is None:
            return incoming
        try:
            data = await attachment.fetch()
        except Exception:
            logger.exception("fetching %s from %s failed", attachment.name, incoming.channel)
            return Reply(text=[say("upload", "download_failed")], kind="error")
        return replace(incoming, attachment=replace(attachment, data=bytes(data), fetch=None))

    def receive_attachment(self, incoming: Incoming) -> Reply:
        """A file sent to the bot: an admin's is previewed for adding; others get the hint."""
        attachment = incoming.attachment
        if attachment is None or not incoming.is_admin:
            return Reply(text=[say("upload", "not_admin")], kind="hint")
        if attachment.data is None:
            return Reply(text=[say("upload", "download_failed")], kind="error")
        return self.receive(attachment.name, attachment.data)

    def receive(self, name: str, data: bytes) -> Reply:
        """Read a sent file and preview it with buttons to add it or cancel; nothing changes."""
        if (refusal := self.too_large(len(data))) is not None:
            return refusal
        safe = _safe_name(name)
        suffix = Path(safe).suffix.lower()
        if not safe or suffix not in POLICY_SUFFIXES:  # .doc/.wps are read, to say 另存为 .docx
            formats = "、".join(sorted(POLICY_SUFFIXES - REFUSED_SUFFIXES))
            text = say("upload", "unsupported", suffix=suffix or name, formats=formats)
            return Reply(text=[text], kind="invalid")
        token = hashlib.sha256(safe.encode() + b"\0" + data).hexdigest()[:_TOKEN_CHARS]
        folder = self.corpus_dir / PENDING_DIR / token
        try:
            folder.mkdir(parents=True, exist_ok=True)
            pending = folder / safe
            pending.write_bytes(data)
        except OSError as error:
            text = say("upload", "storage_failed", error=error.strerror or error)
            return Reply(text=[text], kind="error")
        try:
            from retrieval.reader import read_document  # the reader loads when a file comes

            document = read_document(pending, source=(self.corpus_dir / safe).as_posix())
        except DocumentError as error:
            shutil.rmtree(folder, ignore_errors=True)
            text = say("upload", "unreadable", name=safe, reason=error.reason)
            return Reply(text=[text], kind="invalid")
        buttons = [
            Button(say("upload", "add_button"), f"/upload add {token}", "confirm"),
            Button(say("upload", "cancel_button"), f"/upload cancel {token}", "confirm"),
        ]
        preview = "\n".join(self._preview(safe, document))
        return Reply(text=[preview], buttons=buttons, kind="preview")

    def _preview(self, name: str, document: ParsedDocument) -> list[str]:
        labels = texts()["upload"]["labels"]
        missing = say("upload", "missing")
        parts = (document.province, document.city, document.district)
        place = "/".join(dict.fromkeys(part for part in parts if part))
        level = texts()["upload"]["levels"].get(document.level or "")
        fields = [
            ("title", document.title),
            ("doc_number", document.doc_number),
            ("authority", document.authority),
            ("date", document.date.isoformat() if document.date else None),
            ("level", level),
            ("place", place),
            ("clauses", str(len(document.clauses))),
        ]
        lines = [say("upload", "preview_lead", name=name)]
        lines.extend(
            say("upload", "field", label=labels[key], value=value or missing)
            for key, value in fields
        )
        lines.append(say("upload", "first_clauses"))
        for clause in document.clauses[:PREVIEW_CLAUSES]:
            text = " ".join(clause.text.split())
            if len(text) > PREVIEW_CLAUSE_CHARS:
                text = text[:PREVIEW_CLAUSE_CHARS] + "……"
            section = f"{clause.section} " if clause.section else say("upload", "preamble")
            lines.append(say("upload", "clause_line", section=section, text=text))
        lines.extend(say("upload", "warning", warning=warning) for warning in document.warnings)
        if (self.corpus_dir / name).exists():
            lines.append(say("upload", "replaces_file"))
        if document.doc_number:
            for live in self._documents():
                if live.doc_number == document.doc_number and live.key != name:
                    lines.append(say("upload", "same_number", source=live.source))
        return lines

    def _pending(self, token: str) -> Path | None:
        if not token.isalnum():
            return None
        folder = self.corpus_dir / PENDING_DIR / token
        files = sorted(folder.iterdir()) if folder.is_dir() else []
        return files[0] if files else None

    def add(self, token: str) -> Reply:
        """Move a previewed file into CORPUS_DIR and reload; undone if the reload refuses it."""
        pending = self._pending(token)
        if pending is None:
            return Reply(text=[say("upload", "expired")], kind="invalid")
        target = self.corpus_dir / pending.name
        backup: Path | None = None
        try:
            if target.exists():
                backup = self._set_aside(target, REPLACED_DIR)
            os.replace(pending, target)
        except OSError as error:
            text = say("upload", "storage_failed", error=error.strerror or error)
            return Reply(text=[text], kind="error")
        shutil.rmtree(pending.parent, ignore_errors=True)
        try:
            report = self._reload()
        except Exception as error:  # the folder cannot be reloaded: put everything back
            logger.exception("reload after adding %s failed", target.name)
            self._undo_add(target, backup, pending)
            return Reply(text=[say("reload", "failed", error=error)], kind="error")
        refused = [f for f in report.failures if document_key(f.file) == target.name]
        if refused:  # e.g. a 文号 another file of the same format holds: keep the corpus as it was
            self._undo_add(target, backup, pending)
            self._reload()
            reason = refused[0].reason
            text = say("upload", "unreadable", name=target.name, reason=reason)
            return Reply(text=[text], kind="invalid")
        lines = [say("upload", "added_lead", name=target.name), *report.summary_lines()]
        return Reply(text=["\n".join(lines)], kind="command")

    def _undo_add(self, target: Path, backup: Path | None, pending: Path) -> None:
        pending.parent.mkdir(parents=True, exist_ok=True)
        os.replace(target, pending)
        if backup is not None:
            os.replace(backup, target)

    def cancel(self, token: str) -> Reply:
        pending = self._pending(token)
        if pending is None:
            return Reply(text=[say("upload", "expired")], kind="command")
        shutil.rmtree(pending.parent, ignore_errors=True)
        return Reply(text=[say("upload", "cancelled", name=pending.name)], kind="command")

    def _set_aside(self, path: Path, folder_name: str) -> Path:
        """Move ``path`` into a hidden backup folder of CORPUS_DIR (reloads skip it)."""
        folder = self.corpus_dir / folder_name / _stamp()
        folder.mkdir(parents=True, exist_ok=True)
        destination = folder / path.name
        os.replace(path, destination)
        return destination

    # ------------------------------------------------------------------ removing

    def ask_remove(self, document: StoredDocument) -> Reply:
        """The confirmation for taking ``document`` out of the live corpus."""
        label = f"{document.doc_number or ''}《{document.title}》（{document.source}）"
        buttons = [
            Button(say("remove", "confirm_button"), f"/remove confirm {document.key}", "confirm"),
            Button(say("remove", "cancel_button"), "/remove cancel", "confirm"),
        ]
        return Reply(text=[say("remove", "confirm", label=label)], buttons=buttons, kind="command")

    def remove(self, key: str) -> Reply:
        """Move the document's files (every format of its 文号) out of CORPUS_DIR and reload."""
        document = next((doc for doc in self._documents() if doc.key == key), None)
        if document is None:
            return Reply(text=[say("remove", "gone")], kind="command")
        files = {self.corpus_dir / key}
        if document.doc_number:
            files |= {
                Path(doc.source)
                for doc in read_files(self.corpus_dir).documents
                if doc.doc_number == document.doc_number
            }
        existing = sorted(path for path in files if path.exists())
        moved = [(path, self._set_aside(path, REMOVED_DIR)) for path in existing]
        try:
            report = self._reload()
        except Exception as error:  # e.g. the last document: the folder would be empty
            logger.exception("reload after removing %s failed", key)
            for original, aside in moved:
                os.replace(aside, original)
            return Reply(text=[say("reload", "failed", error=error)], kind="command")
        label = f"{document.doc_number or ''}《{document.title}》"
        lines = [say("remove", "removed_lead", label=label), *report.summary_lines()]
        return Reply(text=["\n".join(lines)], kind="command")
