"""What a reload did, and the report people read: its summary lines come from
``data/corpus_messages.toml`` (``[summary]``), so the wording is edited there, not here."""

from __future__ import annotations

from dataclasses import dataclass, field

from retrieval.messages import message


@dataclass(frozen=True, slots=True)
class DocumentRef:
    """A document named in a report: its source file and, when it has one, its number."""

    source: str
    doc_number: str | None

    def label(self) -> str:
        if self.doc_number:
            return message(
                "summary", "document_with_number", source=self.source, doc_number=self.doc_number
            )
        return self.source


@dataclass(frozen=True, slots=True)
class FileFailure:
    """A file that could not be loaded, and why."""

    file: str
    reason: str


@dataclass(slots=True)
class ReloadReport:
    """What a reload did. ``version`` is the live version afterwards (None: still no corpus)."""

    version: int | None
    previous_version: int | None
    swapped: bool  # a new version went live
    documents_added: list[DocumentRef] = field(default_factory=list)
    documents_changed: list[DocumentRef] = field(default_factory=list)
    documents_removed: list[DocumentRef] = field(default_factory=list)
    documents_unchanged: list[DocumentRef] = field(default_factory=list)
    clauses_added: int = 0
    clauses_changed: int = 0
    clauses_removed: int = 0
    documents_total: int = 0
    clauses_total: int = 0
    failures: list[FileFailure] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # failed now, their last good version stays
    ignored: list[str] = field(default_factory=list)  # non-policy files in the folder
    # loaded, but some metadata not found: (source, ("title", "doc_number", "place"))
    incomplete: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    elapsed: float = 0.0  # seconds

    @property
    def ok(self) -> bool:
        """True when every policy file was loaded."""
        return not self.failures

    @property
    def changed(self) -> bool:
        return bool(
            self.documents_added
            or self.documents_changed
            or self.documents_removed
            or self.clauses_added
            or self.clauses_changed
            or self.clauses_removed
        )

    def summary_lines(self) -> list[str]:
        """The report in Chinese, one line per fact (for ``policybot reload`` and ``/reload``)."""
        untouched = not self.swapped and not (
            self.documents_added or self.documents_changed or self.documents_unchanged
        )
        lines = [self._header(untouched)]
        if not untouched:
            lines.append(
                message(
                    "summary",
                    "documents",
                    added=len(self.documents_added),
                    changed=len(self.documents_changed),
                    removed=len(self.documents_removed),
                    unchanged=len(self.documents_unchanged),
                    kept=len(self.kept),
                    total=self.documents_total,
                )
            )
            lines.append(
                message(
                    "summary",
                    "clauses",
                    added=self.clauses_added,
                    changed=self.clauses_changed,
                    removed=self.clauses_removed,
                    total=self.clauses_total,
                )
            )
        separator = message("summary", "item_separator")
        for name, refs in (
            ("added", self.documents_added),
            ("changed", self.documents_changed),
            ("removed", self.documents_removed),
        ):
            if refs:
                items = separator.join(ref.label() for ref in refs)
                lines.append(message("summary", name, items=items))
        if self.failures:
            lines.append(message("summary", "failures", count=len(self.failures)))
            lines.extend(
                message("summary", "failure", file=failure.file, reason=failure.reason)
                for failure in self.failures
            )
        if self.kept:
            lines.append(message("summary", "kept", items=separator.join(self.kept)))
        if self.ignored:
            lines.append(message("summary", "ignored", items=separator.join(self.ignored)))
        if self.incomplete:
            lines.append(message("summary", "incomplete", count=len(self.incomplete)))
            names = {key: message("metadata", key) for key in ("title", "doc_number", "place")}
            lines.extend(
                message(
                    "summary",
                    "incomplete_file",
                    file=source,
                    missing="/".join(names.get(m, m) for m in missing),
                )
                for source, missing in self.incomplete
            )
        return lines

    def _header(self, untouched: bool) -> str:
        values = {
            "version": self.version,
            "previous": self.previous_version,
            "elapsed": self.elapsed,
        }
        if self.swapped:
            name = "header_first" if self.previous_version is None else "header_swapped"
        elif untouched:
            name = "header_untouched_empty" if self.version is None else "header_untouched"
        else:
            name = "header_same"
        return message("summary", name, **values)
