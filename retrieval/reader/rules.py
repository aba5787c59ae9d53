"""What every stage of the reader shares: the rules of ``data/reader.toml``, the character
classes of Chinese text, and the line a stage hands to the next."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

RULES_FILE = Path(__file__).resolve().parents[1] / "data" / "reader.toml"

_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN_CHAR = re.compile(f"[{_HAN}]")
_SENTENCE_END = "。！？；!?;"
_CLOSERS = "”’\"'」』）)】〕》"
_ENDS_SENTENCE = re.compile(f"[{_SENTENCE_END}:：][{re.escape(_CLOSERS)}]*$")
_HAS_SENTENCE_END = re.compile(f"[{_SENTENCE_END}]")
_WHITE = re.compile(r"\s+")
_SPACE_NEAR_WIDE = re.compile(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])")


@dataclass(frozen=True)
class _Rules:
    chrome: tuple[re.Pattern[str], ...]
    attachment_label: re.Pattern[str]
    hints: dict[str, tuple[re.Pattern[str], ...]]
    front_matter: dict[str, frozenset[str]]
    doc_number: tuple[re.Pattern[str], ...]
    doc_number_max_other: int
    authority_line: re.Pattern[str]
    authority_never: tuple[str, ...]
    authority_trailing: tuple[str, ...]
    authority_max: int
    self_reference: re.Pattern[str]
    salutation_prefixes: tuple[str, ...]
    salutation_max: int
    salutation_never: tuple[str, ...]
    addressees: re.Pattern[str]
    closing: tuple[str, ...]
    title_keywords: tuple[str, ...]
    info_table_keys: tuple[str, ...]
    breadcrumb: re.Pattern[str]
    title_cut: re.Pattern[str]
    title_leading: re.Pattern[str]
    title_never: tuple[str, ...]
    title_max: int
    national_bodies: tuple[str, ...]
    link_farm_parts: int
    body_title: tuple[re.Pattern[str], ...]
    cited: re.Pattern[str]


@cache
def _rules(path: Path = RULES_FILE) -> _Rules:
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    authority = data["authority"]
    suffixes = "|".join(re.escape(s) for s in sorted(authority["suffixes"], key=len, reverse=True))
    return _Rules(
        chrome=tuple(re.compile(p) for p in data["chrome"]["lines"]),
        attachment_label=re.compile(data["chrome"]["attachment_label"]),
        hints={k: tuple(re.compile(p) for p in v) for k, v in data["hints"].items()},
        front_matter={k: frozenset(v) for k, v in data["front_matter"].items()},
        doc_number=tuple(re.compile(p) for p in data["doc_number"]["patterns"]),
        doc_number_max_other=int(data["doc_number"]["max_other_chars"]),
        authority_line=re.compile(f"^[{_HAN}（）()·]{{2,}}?(?:{suffixes})$"),
        authority_never=tuple(authority["never"]),
        authority_trailing=tuple(authority["trailing"]),
        authority_max=int(authority["max_chars"]),
        self_reference=re.compile(authority["self_reference"]),
        salutation_prefixes=tuple(data["salutation"]["prefixes"]),
        salutation_max=int(data["salutation"]["max_chars"]),
        salutation_never=tuple(data["salutation"]["never"]),
        addressees=re.compile(data["salutation"]["addressees"]),
        closing=tuple(data["closing"]["prefixes"]),
        title_keywords=tuple(data["title"]["keywords"]),
        info_table_keys=tuple(data["chrome"]["info_table_keys"]),
        breadcrumb=re.compile(data["chrome"]["breadcrumb_separator"]),
        title_cut=re.compile("|".join(f"(?:{p})" for p in data["title_cleanup"]["cut"])),
        title_max=int(data["title_cleanup"]["max_chars"]),
        title_leading=re.compile(data["title_cleanup"]["leading"]),
        title_never=tuple(data["title_cleanup"]["never"]),
        national_bodies=tuple(data["place"]["national_bodies"]),
        link_farm_parts=int(data["chrome"]["link_farm_parts"]),
        body_title=tuple(re.compile(p) for p in data["body_title"]["patterns"]),
        cited=re.compile(data["body_title"]["cited"]),
    )


@dataclass(slots=True)
class _Line:
    text: str
    heading: bool = False  # a Markdown heading (# …): always a line of its own


@dataclass(slots=True)
class _Hints:
    values: dict[str, str] = field(default_factory=dict)

    def note(self, key: str, value: str) -> None:
        value = value.strip()
        if value and key not in self.values:
            self.values[key] = value
