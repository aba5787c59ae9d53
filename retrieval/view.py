"""A simplified-character view of a document that maps back to the file's own characters.

Pages come in traditional characters (揭府規〔2020〕3號) and with a mojibake that follows
characters with their pinyin (業(yè)務(wù)). The reader's rules are written for simplified text, so
it reads the *view*: the same text converted character by character (so every position keeps
its meaning). What it keeps — clauses, titles, numbers — is then restored to the file's own
characters, so a quote stays verbatim against the file.
"""

from __future__ import annotations

import re
from functools import lru_cache

from zhtext.normalize import PINYIN_NOTE, to_simplified

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@lru_cache(maxsize=65536)
def _simplified_char(char: str) -> str:
    converted = to_simplified(char)
    return converted if len(converted) == 1 else char


def simplified_view(text: str) -> tuple[str, list[int]]:
    """``text`` in simplified characters, converted one character at a time, pinyin notes
    left out; with the position in ``text`` of every character of the view."""
    if not _HAN.search(text):
        return text, list(range(len(text)))
    chars: list[str] = []
    positions: list[int] = []
    cursor = 0
    for note in PINYIN_NOTE.finditer(text):
        for index in range(cursor, note.start()):
            chars.append(text[index])
            positions.append(index)
        cursor = note.end()
    for index in range(cursor, len(text)):
        chars.append(text[index])
        positions.append(index)
    view = "".join(_simplified_char(c) if c >= "\u3400" else c for c in chars)
    return view, positions


class Restorer:
    """Restores text read from the view to the file's characters.

    The view and the file have the same characters at the same positions once white space is
    removed, so a piece of the view is found in the view's compact form and read off the
    file's compact form; white space of the piece itself is kept.
    """

    def __init__(self, original: str, view: str, positions: list[int]) -> None:
        self.identical = original == view
        self._text = original
        kept = [(char, at) for char, at in zip(view, positions, strict=True) if not char.isspace()]
        self._view = "".join(char for char, _ in kept)
        self._at = [at for _, at in kept]
        self._cursor = 0

    def _with_note(self, index: int) -> str:
        """The file's character at compact view ``index``, with a pinyin note that follows it."""
        at = self._at[index]
        char = self._text[at]
        following = self._at[index + 1] if index + 1 < len(self._at) else len(self._text)
        if following > at + 1:
            gap = self._text[at + 1 : following]
            note = PINYIN_NOTE.match(self._text, at + 1)
            if note is not None and note.end() <= following:
                return char + gap[: note.end() - at - 1]
        return char

    def restore(self, piece: str, *, ordered: bool = True) -> str:
        """``piece`` with the file's characters; ``ordered`` pieces are searched in reading
        order from the previous one (clauses), others from the start (metadata)."""
        if self.identical or not piece:
            return piece
        compact = "".join(piece.split())
        if not compact:
            return piece
        start = -1
        length = min(len(compact), 12)
        while start < 0 and length >= 1:  # the longest opening found anchors the piece
            probe = compact[:length]
            start = self._view.find(probe, self._cursor if ordered else 0)
            if start < 0:
                start = self._view.find(probe)
            length -= 1 if length <= 4 else 4
        if start < 0:
            return piece
        out = []
        cursor = start
        for char in piece:
            if char.isspace():
                out.append(char)
                continue
            found = self._view.find(char, cursor)
            if found < 0:  # cannot happen for text read from the view; keep it as read
                out.append(char)
                continue
            out.append(self._with_note(found))
            cursor = found + 1
        if ordered:
            self._cursor = start
        return "".join(out)
