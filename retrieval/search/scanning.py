"""A regular expression rewritten so that ``search`` skips, at C speed, every position where no
match can start: what a clause's question-kind patterns cost when an index is built.

Python's ``re`` skips ahead only when a pattern starts with a literal, a character class or an
alternation of literals; a pattern such as ``[0-9]{1,2}月[0-9]{1,2}日|截止`` is tried at every
character of every clause (a first build spent a third of its per-clause work there).
``scanning`` computes the characters a match can start with and puts them first, as a class,
with the pattern itself asserted from that character on::

    [0-9截]   (?<= (?= pattern ) [\\s\\S] )

The class is what ``re`` skips ahead by; the look-behind steps back over the character it
consumed and asserts the whole pattern from there. A match of the rewritten pattern starts
where one of the original does, so ``search`` finds one exactly when the original finds one
(its span is the first character only: use it to test, not to cut). A pattern whose first
characters cannot be listed (one that can match the empty string, starts with ``.``, an
anchor, a negated class, or is case-insensitive or verbose) is returned unchanged.
"""

from __future__ import annotations

import re
from typing import Any

try:  # the parser ``re`` uses; private, so anything unexpected leaves the pattern as it is
    import re._constants as _op
    import re._parser as _parser
except ImportError:  # pragma: no cover - a Python without them
    _parser = None

_CATEGORIES = {
    "CATEGORY_DIGIT": r"\d",
    "CATEGORY_NOT_DIGIT": r"\D",
    "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_SPACE": r"\S",
    "CATEGORY_WORD": r"\w",
    "CATEGORY_NOT_WORD": r"\W",
}


class _Unlisted(Exception):
    """The characters a match may start with cannot be given as one class."""


def scanning(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """``pattern`` led by the class of the characters its matches can start with (see the
    module's docstring), or ``pattern`` itself when they cannot be listed."""
    if _parser is None or pattern.flags & (re.IGNORECASE | re.VERBOSE):
        return pattern  # (a verbose pattern's comment would swallow what follows it)
    try:
        parsed = _parser.parse(pattern.pattern, pattern.flags)
        items, may_be_empty = _first(list(parsed))
        if may_be_empty or not items:
            return pattern
        lead = "[" + "".join(_class_item(op, value) for op, value in items) + "]"
        return re.compile(f"{lead}(?<=(?={pattern.pattern})[\\s\\S])", pattern.flags)
    except (_Unlisted, re.error, ValueError, TypeError, RecursionError):
        return pattern


def _first(sequence: list[tuple[Any, Any]]) -> tuple[list[tuple[Any, Any]], bool]:
    """The class items a match of ``sequence`` can start with, and whether it can be empty."""
    items: list[tuple[Any, Any]] = []
    for op, value in sequence:
        if op is _op.LITERAL:
            return [*items, (op, value)], False
        if op is _op.IN:
            if any(item_op is _op.NEGATE for item_op, _ in value):
                raise _Unlisted
            return [*items, *value], False
        if op is _op.SUBPATTERN:
            _group, add_flags, del_flags, inner = value
            if add_flags or del_flags:
                raise _Unlisted
            found, empty = _first(list(inner))
        elif op is _op.BRANCH:
            found, empty = [], False
            for alternative in value[1]:
                got, may_be_empty = _first(list(alternative))
                found += got
                empty = empty or may_be_empty
        elif op in (_op.MAX_REPEAT, _op.MIN_REPEAT, getattr(_op, "POSSESSIVE_REPEAT", None)):
            least, _most, inner = value
            found, empty = _first(list(inner))
            empty = empty or least == 0
        else:  # ., anchors, look-arounds, back-references, atomic groups: not listed
            raise _Unlisted
        items += found
        if not empty:
            return items, False
    return items, True


def _class_item(op: Any, value: Any) -> str:
    """One item of a character class, written back as ``re`` reads it in a class."""
    if op is _op.LITERAL:
        return re.escape(chr(value))
    if op is _op.RANGE:
        return f"{re.escape(chr(value[0]))}-{re.escape(chr(value[1]))}"
    if op is _op.CATEGORY and str(value) in _CATEGORIES:
        return _CATEGORIES[str(value)]
    raise _Unlisted
