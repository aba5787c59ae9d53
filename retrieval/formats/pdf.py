"""Text PDFs into paragraphs, with pdfplumber (pdfminer.six underneath).

pdfplumber was chosen over pypdf because it gives every line its position on the page, which
the three hard parts need: page headers, footers and numbers are told from body text by where
they sit (a band at the top and bottom) and by repeating on many pages; wrapped lines are
joined into paragraphs where a line runs to the right margin and the next one is not indented
(also across a page break); and ruled tables are found as tables, each row one line
(``一等奖 | 50万元``) instead of one cell per line.
"""

from __future__ import annotations

import io
import math
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from functools import cache
from typing import Any

import pdfplumber
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfplumber.utils.exceptions import PdfminerException

from retrieval.formats._base import Extracted, join_wrapped, refuse, say, settings, table_row

_SUFFIX = ".pdf"
_DIGITS = re.compile(r"\d+")
_INDENT_CHARS = 0.8  # a first line starting this many characters right of the margin: new paragraph
_SHORT_CHARS = 2.0  # a line ending this many characters before the right edge stopped short
_GAP_LINES = 1.0  # a gap taller than this many lines between two lines: new paragraph
_LATIN_WIDTH = 0.6  # width of a Latin letter or digit, in characters of the body's size
_SMALL_PRINT = 0.85  # a line in the margin band set this much smaller than the body is chrome
_LEADING_LATIN = re.compile(r"^[”’」』）》〕】]?[\x21-\x7e]+")


@dataclass(frozen=True, slots=True)
class _Line:
    page: int
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    table: bool = False

    @property
    def height(self) -> float:
        return max(self.bottom - self.top, 1.0)


@dataclass(frozen=True, slots=True)
class _Page:
    lines: list[_Line]
    tables: int
    width: float
    height: float


@cache
def _page_numbers() -> list[re.Pattern[str]]:
    return [re.compile(pattern) for pattern in settings()["pdf"]["page_number_patterns"]]


def extract_pdf(data: bytes) -> Extracted:
    """The body text of a text PDF; raises FormatError for scanned, encrypted or broken files."""
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            pages = [_read_page(page) for page in pdf.pages]
    except PdfminerException as error:
        cause = error.args[0] if error.args else None
        if isinstance(cause, PDFPasswordIncorrect | PDFEncryptionError):
            raise refuse("encrypted", _SUFFIX) from None
        raise refuse("corrupt", _SUFFIX) from None
    except Exception:  # pdfminer raises many kinds on broken files (PSEOF, KeyError, …)
        raise refuse("corrupt", _SUFFIX) from None
    if not pages:
        raise refuse("corrupt", _SUFFIX)
    if not any(page.lines for page in pages):
        raise refuse("scanned", _SUFFIX)
    warnings: list[str] = []
    blank = [str(number) for number, page in enumerate(pages, 1) if not page.lines]
    if blank:
        warnings.append(say("warnings", "blank_pages", pages="、".join(blank)))
    body, dropped = _without_chrome(pages)
    if dropped:
        warnings.append(say("warnings", "chrome_dropped", count=dropped))
    tables = sum(page.tables for page in pages)
    if tables:
        warnings.append(say("warnings", "tables", count=tables))
    text = "\n".join(_paragraphs(body, max(page.width for page in pages)))
    return Extracted(text=text, warnings=warnings, pages=len(pages))


def _read_page(page: Any) -> _Page:
    """The page's text lines and table rows in reading order, and how many tables it has."""
    number = page.page_number
    tables = page.find_tables()
    boxes = [table.bbox for table in tables]
    lines = [
        _Line(number, line["text"], line["x0"], line["x1"], line["top"], line["bottom"])
        for line in page.extract_text_lines(strip=True, return_chars=False)
        if line["text"].strip() and not _inside(line, boxes)
    ]
    for table in tables:
        x0, top, x1, bottom = table.bbox
        for index, row in enumerate(table.extract()):
            text = table_row([(cell or "").replace("\n", "") for cell in row])
            if text:  # rows keep the table's place; tiny offsets keep their order
                lines.append(_Line(number, text, x0, x1, top + index * 0.001, bottom, table=True))
    lines.sort(key=lambda line: (line.top, line.x0))
    return _Page(lines, len(tables), float(page.width), float(page.height))


def _inside(line: dict[str, Any], boxes: list[tuple[float, float, float, float]]) -> bool:
    middle = (line["top"] + line["bottom"]) / 2
    return any(
        top <= middle <= bottom and x0 - 1 <= line["x0"] <= x1 for x0, top, x1, bottom in boxes
    )


def _without_chrome(pages: list[_Page]) -> tuple[list[_Line], int]:
    """All pages' lines less page headers, footers and page numbers; and how many went.

    A line in the band at the top (or bottom) of a page is chrome when the same text, digits
    aside, stands in that band on enough pages, when it is set smaller than the body, or when
    it is a page number.
    """
    band = float(settings()["pdf"]["margin_band"])

    def place(line: _Line, page: _Page) -> str | None:
        if line.table:
            return None
        if line.top < band * page.height:
            return "top"
        return "bottom" if line.bottom > (1 - band) * page.height else None

    def key(line: _Line, where: str) -> str:
        return where + _DIGITS.sub("#", "".join(line.text.split()))

    counts: Counter[str] = Counter()
    for page in pages:  # each page counts once per text
        placed = ((line, place(line, page)) for line in page.lines)
        counts.update({key(line, where) for line, where in placed if where is not None})
    body_size = statistics.median(line.height for page in pages for line in page.lines)
    config = settings()["pdf"]
    needed = max(int(config["min_repeats"]), math.ceil(float(config["repeat_share"]) * len(pages)))
    body: list[_Line] = []
    dropped = 0
    for page in pages:
        for line in page.lines:
            where = place(line, page)
            compact = "".join(line.text.split())
            if where is not None and (
                counts[key(line, where)] >= needed
                or line.height < _SMALL_PRINT * body_size
                or any(pattern.match(compact) for pattern in _page_numbers())
            ):
                dropped += 1
                continue
            body.append(line)
    return body, dropped


def _paragraphs(lines: list[_Line], page_width: float) -> list[str]:
    """Join wrapped lines into paragraphs: a line that reaches the right edge continues in the
    next one unless that one is indented, far below, or a table row (page breaks included)."""
    text_lines = [line for line in lines if not line.table]
    if not text_lines:
        return [line.text for line in lines]
    size = statistics.median(line.height for line in text_lines)
    left = min(line.x0 for line in text_lines)
    # the right margin mirrors the left one: a document of short lines never reaches it
    right = max(max(line.x1 for line in text_lines), page_width - left)
    paragraphs: list[str] = []
    previous: _Line | None = None
    for line in lines:
        if previous is not None and _continues(previous, line, size, left, right):
            paragraphs[-1] = join_wrapped(paragraphs[-1], line.text)
        else:
            paragraphs.append(line.text)
        previous = line
    return paragraphs


def _continues(previous: _Line, line: _Line, size: float, left: float, right: float) -> bool:
    if previous.table or line.table or line.x0 > left + _INDENT_CHARS * size:
        return False
    # a Latin word or number too wide for the room left is wrapped whole (电话:\n020-3892…)
    word = _LEADING_LATIN.match(line.text)
    room_chars = _SHORT_CHARS + (len(word.group()) * _LATIN_WIDTH if word else 0.0)
    if previous.x1 < right - room_chars * size:
        return False
    return line.page != previous.page or line.top - previous.bottom <= _GAP_LINES * size
