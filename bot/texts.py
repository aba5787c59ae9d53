"""Texts users see and the follow-up patterns, read once from ``bot/data/*.toml``.

People who are not programmers edit these files; the code only fills in placeholders.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from intents.topics import topic_description, topic_labels, topic_name

# the topics are named once, in intents/lexicon.toml
__all__ = ["topic_description", "topic_labels", "topic_name"]

DATA_DIR = Path(__file__).resolve().parent / "data"


def _load(name: str) -> dict[str, Any]:
    with (DATA_DIR / name).open("rb") as handle:
        return tomllib.load(handle)


@lru_cache(maxsize=1)
def texts() -> dict[str, Any]:
    """All user-facing sentences (``texts.toml``)."""
    return _load("texts.toml")


def say(section: str, key: str, /, **values: object) -> str:
    """One sentence from ``texts.toml`` with its placeholders filled in."""
    template = texts()[section][key]
    return str(template).format(**values) if values else str(template)


@dataclass(frozen=True, slots=True)
class FollowupPatterns:
    """Compiled follow-up patterns: asking for more, and switching place or topic."""

    more: tuple[re.Pattern[str], ...]
    switch: tuple[re.Pattern[str], ...]
    thanks: tuple[re.Pattern[str], ...]


@lru_cache(maxsize=1)
def followup_patterns() -> FollowupPatterns:
    data = _load("followups.toml")
    return FollowupPatterns(
        more=tuple(re.compile(pattern, re.IGNORECASE) for pattern in data["more"]),
        switch=tuple(re.compile(pattern) for pattern in data["switch"]),
        thanks=tuple(re.compile(pattern, re.IGNORECASE) for pattern in data["thanks"]),
    )


@lru_cache(maxsize=1)
def lookup_templates() -> dict[str, Any]:
    """Templates and limits for canned lookups (``lookups.toml``)."""
    return _load("lookups.toml")
