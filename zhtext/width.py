"""How wide text is on a screen: a Chinese character takes two columns, a Latin letter one."""

from __future__ import annotations

import unicodedata


def display_width(text: str) -> int:
    """Columns ``text`` takes in a monospaced terminal or a chat button (wide and full-width: 2)."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
