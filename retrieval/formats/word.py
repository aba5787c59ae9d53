"""Word ``.docx`` into text with python-docx: paragraphs and tables in document order.

Page headers and footers live in their own parts of a .docx, so the body never holds them.
A table row becomes one line (``一等奖 | 50万元``) after the paragraph that introduces it;
a cell merged across columns is written once.
"""

from __future__ import annotations

import io
import zipfile

import docx
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph

from retrieval.formats._base import Extracted, refuse, say, table_row

_SUFFIX = ".docx"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .doc, and a password-protected .docx


def extract_docx(data: bytes) -> Extracted:
    """The document's paragraphs and table rows, one per line; FormatError when unreadable."""
    if data.startswith(_OLE_MAGIC):
        raise refuse("legacy_word", ".doc")
    try:
        document = docx.Document(io.BytesIO(data))
        lines: list[str] = []
        tables = 0
        for block in document.iter_inner_content():
            if isinstance(block, Paragraph):
                lines.extend(block.text.splitlines())
            elif isinstance(block, Table):
                tables += 1
                lines.extend(_rows(block))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError):
        raise refuse("corrupt", _SUFFIX) from None
    text = "\n".join(line.strip() for line in lines if line.strip())
    if not text:
        raise refuse("no_text", _SUFFIX)
    warnings = [say("warnings", "tables", count=tables)] if tables else []
    return Extracted(text=text, warnings=warnings)


def _rows(table: Table) -> list[str]:
    rows: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is previous:  # a merged cell repeats itself across its columns
                continue
            previous = cell._tc
            cells.append("".join(paragraph.text for paragraph in cell.paragraphs))
        if (line := table_row(cells)) is not None:
            rows.append(line)
    return rows
