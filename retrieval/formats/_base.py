"""What every format reader returns or raises, and the settings they share (data/formats.toml)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).parent / "data" / "formats.toml"


@dataclass(frozen=True, slots=True)
class Extracted:
    """A file's text as the reader consumes a decoded ``.txt``, and what an admin should know.

    ``text`` is what quotes are verbatim against: one paragraph or table row per line.
    ``warnings`` are Chinese sentences (chrome dropped, tables turned into rows, blank pages).
    """

    text: str
    warnings: list[str] = field(default_factory=list)
    pages: int = 1  # pages of a PDF; 1 for formats without pages


class FormatError(ValueError):
    """A file that cannot be read as its format; ``message`` is the Chinese reason for people.

    ``kind`` names the case for programs and tests: scanned, encrypted, legacy_word, corrupt,
    no_text, no_article or unsupported.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@cache
def settings() -> dict[str, Any]:
    with DATA_FILE.open("rb") as handle:
        return tomllib.load(handle)


def say(section: str, name: str, **values: object) -> str:
    """A Chinese text of ``formats.toml``, filled in."""
    return str(settings()[section][name]).format(**values)


def kind_of(suffix: str) -> str:
    """The format's name as people know it (``PDF``, ``Word（.docx）``)."""
    return str(settings()["kinds"].get(suffix, suffix))


def refuse(kind: str, suffix: str = "", **values: object) -> FormatError:
    """The typed error for ``kind``, its message filled in with the format's name."""
    return FormatError(kind, say("messages", kind, kind=kind_of(suffix), suffix=suffix, **values))


def join_wrapped(left: str, right: str) -> str:
    """Join two pieces of one line that a layout wrapped: a space only between Latin words."""
    if left and right and left[-1].isascii() and left[-1].isalnum() and right[0].isascii():
        return f"{left} {right}" if right[0].isalnum() else left + right
    return left + right


def table_row(cells: list[str]) -> str | None:
    """One table row as a readable line (``一等奖 | 50万元``); None when every cell is empty."""
    texts = [" ".join(cell.split()) for cell in cells]
    kept = [text for text in texts if text]
    return " | ".join(kept) if kept else None
