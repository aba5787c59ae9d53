"""A saved government web page (``.html``/``.htm``) into its article text, with selectolax.

selectolax (lexbor, MIT) parses and decodes the page (``<meta charset>``, GBK pages too); what
is chrome is decided by data (``[html]`` of formats.toml): elements that never hold article
text (nav, aside, footer, scripts, forms), classes and ids named like navigation, and boxes
that are mostly links (menus, related links). trafilatura (Apache-2.0) was tried first: on
small government pages it either kept the menus and related links or dropped the title and
the 发布日期 line, and its tables came out as Markdown; a page's own structure read directly
is predictable. Blocks become lines; a data table becomes one line per row.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from retrieval.formats._base import Extracted, refuse, say, settings, table_row

_SUFFIX = ".html"
_WORD_SPLIT = re.compile(r"[-_\s]+")


@cache
def _config() -> dict[str, Any]:
    return dict(settings()["html"])


def extract_html(data: bytes) -> Extracted:
    """The article of a web page, one block or table row per line; FormatError when none."""
    try:
        tree = LexborHTMLParser(_declared_or_decoded(data), encoding=True)
    except Exception:
        raise refuse("corrupt", _SUFFIX) from None
    body = tree.body
    if body is None:
        raise refuse("no_article", _SUFFIX)
    renderer = _Renderer()
    renderer.render(body)
    lines = renderer.finish()
    if not lines:
        raise refuse("no_article", _SUFFIX)
    warnings = [say("warnings", "tables", count=renderer.tables)] if renderer.tables else []
    return Extracted(text="\n".join(lines), warnings=warnings)


def _declared_or_decoded(data: bytes) -> bytes | str:
    """The page as lexbor should read it: its bytes when it declares a charset (lexbor follows
    the declaration), else decoded here as UTF-8 or, failing that, GB18030 (a superset of GBK),
    which is what a Chinese page saved without a declaration is in."""
    if b"charset" in data[:4096].lower():
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")


def _compact_len(text: str) -> int:
    return len("".join(text.split()))


class _Renderer:
    """Walks the page once, writing block text as lines and skipping chrome."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._current: list[str] = []
        self.tables = 0

    def finish(self) -> list[str]:
        self._flush()
        return self.lines

    def _flush(self) -> None:
        line = " ".join("".join(self._current).split())
        self._current.clear()
        if line:
            self.lines.append(line)

    def render(self, node: LexborNode) -> None:
        for child in node.iter(include_text=True):
            tag = child.tag
            if tag == "-text":
                self._current.append(child.text(deep=False) or "")
                continue
            if not tag or tag.startswith("-") or self._is_chrome(child):
                continue
            if tag == "br":
                self._flush()
                continue
            if tag == "table" and self._is_data_table(child):
                self._flush()
                self._table(child)
                continue
            block = tag in _config()["block_tags"]
            if block:
                self._flush()
            self.render(child)
            if block:
                self._flush()

    def _is_chrome(self, node: LexborNode) -> bool:
        config = _config()
        tag = node.tag
        if tag in config["drop_tags"]:
            return True
        if tag == "header" and node.css_first("h1") is None:
            return True
        names = f"{node.attributes.get('class') or ''} {node.attributes.get('id') or ''}"
        words = {word.lower() for word in _WORD_SPLIT.split(names) if word}
        if words & set(config["chrome_words"]):
            return True
        if tag in _config()["link_box_tags"]:
            links = node.css("a")
            if len(links) >= config["link_box_min_links"]:
                total = _compact_len(node.text())
                linked = sum(_compact_len(link.text()) for link in links)
                return total > 0 and linked / total >= config["link_box_share"]
        return False

    def _is_data_table(self, table: LexborNode) -> bool:
        if table.css_first("table table") is not None or table.css_first("td table"):
            return False
        limit = _config()["layout_cell_chars"]
        return all(_compact_len(cell.text()) <= limit for cell in table.css("td, th"))

    def _table(self, table: LexborNode) -> None:
        self.tables += 1
        for row in table.css("tr"):
            cells = [cell.text(separator="") for cell in row.css("td, th")]
            if (line := table_row(cells)) is not None:
                self.lines.append(line)
