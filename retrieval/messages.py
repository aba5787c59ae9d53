"""Texts people see when the corpus is read and reloaded, from ``data/corpus_messages.toml``."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

MESSAGES_FILE = Path(__file__).parent / "data" / "corpus_messages.toml"


@cache
def _messages() -> dict[str, Any]:
    return tomllib.loads(MESSAGES_FILE.read_text(encoding="utf-8"))


def message(section: str, name: str, **values: object) -> str:
    """A user-facing text, filled in."""
    return str(_messages()[section][name]).format(**values)
