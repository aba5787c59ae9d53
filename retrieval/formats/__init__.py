"""Published files (PDF, Word, web pages) into the text the reader reads as it reads a ``.txt``.

One entry, :func:`extract`: bytes and the file's suffix in, :class:`Extracted` (text, warnings)
out, or :class:`FormatError` carrying the Chinese reason for the admin (扫描件…, 加密…,
.doc/.wps 请另存为 .docx, 文件损坏…). Quotes are verbatim against ``Extracted.text``, which the
store keeps with the document version.

Usage::

    extracted = extract(Path("通知.pdf").read_bytes(), ".pdf")
    document = parse_policy_text(extracted.text, source="通知.pdf")
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePath

from retrieval.formats._base import Extracted, FormatError, refuse, settings

__all__ = [
    "REFUSED_SUFFIXES",
    "SUFFIXES",
    "Extracted",
    "FormatError",
    "extract",
    "format_rank",
]

SUFFIXES = frozenset({".pdf", ".docx", ".html", ".htm"})  # read here; .txt/.md by the reader
REFUSED_SUFFIXES = frozenset({".doc", ".wps"})  # policy files in formats no library reads well


def _readers() -> dict[str, Callable[[bytes], Extracted]]:
    """Imported on first use: the corpus reader needs none of these for a folder of .txt."""
    from retrieval.formats.pdf import extract_pdf
    from retrieval.formats.web import extract_html
    from retrieval.formats.word import extract_docx

    return {".pdf": extract_pdf, ".docx": extract_docx, ".html": extract_html, ".htm": extract_html}


def extract(data: bytes, suffix: str) -> Extracted:
    """The text of a file in one of :data:`SUFFIXES`; raises FormatError saying why not."""
    suffix = suffix.lower()
    if suffix in REFUSED_SUFFIXES:
        raise refuse("legacy_word", suffix)
    reader = _readers().get(suffix)
    if reader is None:
        raise refuse("unsupported", suffix)
    if not data.strip():
        raise refuse("no_text", suffix)
    return reader(data)


def format_rank(name: str | PurePath) -> int:
    """Which of a document's formats is kept (lower first) when one 文号 comes in several."""
    order: list[str] = settings()["preference"]["order"]
    suffix = PurePath(name).suffix.lower()
    return order.index(suffix) if suffix in order else len(order)
