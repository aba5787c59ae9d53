"""Place names in text: which province, city, district, county or town a text names.

Two data files, so that people can add a town without touching code:

- ``data/adcodes.csv``: China's administrative divisions (provinces, prefecture cities,
  districts and counties, with their codes), taken as it is from the MIT-licensed cpca
  package (see ``data/adcodes.LICENSE``). The code says what belongs to what.
- ``data/places.toml``: what that dataset lacks — towns (镇), development zones and new areas
  (大亚湾, 松山湖, 南沙), other names (鹏城), names that are also ordinary words, words that only
  contain a place name (中山大学), one-character names used in context (在莞).

Matching is longest-first and left to right, so 东莞市 is one place and 中山大学 is none. A name
several places share (鼓楼区 of 福州, 南京, 徐州, 开封) is resolved by the other places the text
names (福州市鼓楼区), else by the data's order of preference (the corpus's home province first).
"""

from __future__ import annotations

import csv
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from retrieval.disk_cache import cached

DATA_DIR = Path(__file__).parent / "data"
PLACES_FILE = DATA_DIR / "places.toml"
DIVISIONS_FILE = DATA_DIR / "adcodes.csv"

CITY, DISTRICT, TOWN, PROVINCE = "city", "district", "town", "province"
NATIONAL = "national"
_LEVEL_OF_KIND = {PROVINCE: PROVINCE, CITY: CITY, DISTRICT: DISTRICT, TOWN: DISTRICT}
_ETHNIC_AUTONOMY = re.compile(r"^(?P<stem>.{2,}?)(?:[一-龥]{1,5}族)*自治(?:州|县|旗)$")


@dataclass(frozen=True, slots=True)
class Place:
    """A place: a province, a prefecture city, a district or county, or a town or zone.

    ``name`` is the short name people use (深圳, 南山, 广东); ``full`` the official one (深圳市,
    南山区, 广东省). ``city`` is the prefecture city it belongs to (its own name for a city; a
    municipality such as 天津 is a city of its own province); ``province`` likewise.
    """

    name: str
    kind: str  # "province" | "city" | "district" | "town"
    city: str | None
    province: str | None = None
    full: str = ""
    code: str = ""

    @property
    def level(self) -> str:
        """The level a document of this place has: province | city | district."""
        return _LEVEL_OF_KIND[self.kind]

    @property
    def display(self) -> str:
        return self.full or self.name

    def within(self, other: Place) -> bool:
        """Whether this place is ``other`` or lies inside it (南山 within 深圳 within 广东)."""
        if other.kind == PROVINCE:
            return self.province == other.name
        if other.kind == CITY:
            return self.city == other.name
        return self.name == other.name and self.city == other.city


@dataclass(frozen=True, slots=True)
class PlaceMatch:
    """Where a place is named: ``surface`` is the text as written (宝安区), ``place`` its entry."""

    place: Place
    surface: str
    start: int
    end: int


@dataclass(slots=True)
class _Surface:
    """A written form and the places it may stand for, best first; ``blocked`` ordinary words;
    ``short`` a name without its suffix (南山), which must not be part of another word."""

    places: list[Place] = field(default_factory=list)
    blocked: bool = False
    short: bool = False


class Gazetteer:
    """Finds places in text; built once from the data files by :func:`load_gazetteer`."""

    def __init__(
        self,
        places: Iterable[Place],
        *,
        short_forms: Mapping[str, Iterable[Place]] | None = None,
        aliases: Mapping[str, str] | None = None,
        not_places: Iterable[str] = (),
        short_names: Mapping[str, str] | None = None,
        short_before: Iterable[str] = (),
        short_after: Iterable[str] = (),
        word_frequency: Mapping[str, int] | None = None,
        word_min_frequency: int = 1000,
        zone_suffixes: Iterable[str] = (),
        province_abbreviations: Mapping[str, str] | None = None,
    ) -> None:
        self._zone_suffixes = tuple(zone_suffixes)
        self._abbreviations = dict(province_abbreviations or {})
        self._places: list[Place] = list(places)
        self._words = {
            w for w, f in (word_frequency or {}).items() if f >= word_min_frequency and len(w) == 2
        }
        surfaces: dict[str, _Surface] = {}
        self._surfaces = surfaces  # filled below; aliases already look names up in it

        def add(surface: str, place: Place) -> None:
            entry = surfaces.setdefault(surface, _Surface())
            if place not in entry.places:
                entry.places.append(place)

        for place in self._places:
            add(place.full or place.name, place)
        for surface, places_of_surface in (short_forms or {}).items():
            for place in places_of_surface:
                add(surface, place)
            if not any(surface == p.full for p in places_of_surface):
                surfaces[surface].short = True
        for alias, name in (aliases or {}).items():
            add(alias, self._entry(name, alias))
        for word in not_places:  # blockers win over any place they contain
            surfaces[word] = _Surface(blocked=True)
        self._short = {char: self._entry(name, char) for char, name in (short_names or {}).items()}

        alternatives = [re.escape(s) for s in sorted(surfaces, key=len, reverse=True)]
        before = "|".join(f"(?<={re.escape(w)})" for w in short_before)
        after = "|".join(re.escape(w) for w in short_after)
        for char in self._short:
            if before:
                alternatives.append(f"(?:{before}){re.escape(char)}")
            if after:
                alternatives.append(f"{re.escape(char)}(?=(?:{after}))")
        self._pattern = re.compile("|".join(alternatives)) if alternatives else None

    def _entry(self, name: str, referrer: str) -> Place:
        surface = self._surfaces_for(name)
        if surface:
            return surface[0]
        raise ValueError(f"{referrer!r} refers to unknown place {name!r}")

    def _surfaces_for(self, name: str) -> list[Place]:
        entry = self._surfaces.get(name)
        if entry is not None and entry.places:
            return entry.places
        return [p for p in self._places if name in (p.name, p.full)]

    def matches(self, text: str) -> list[PlaceMatch]:
        """Every mention of a place in ``text``, in order, longest match first, no overlaps.

        A name several places share becomes the one whose province or city the text also
        names (福州市鼓楼区), else the first in the data's order of preference.
        """
        if self._pattern is None:
            return []
        raw: list[tuple[list[Place], str, int, int]] = []
        for match in self._pattern.finditer(text):
            surface = match.group()
            entry = self._surfaces.get(surface)
            if entry is not None:
                if entry.blocked or not entry.places:
                    continue
                if entry.short and self._inside_word(text, match.start(), match.end()):
                    continue  # 和政 in 人民政府和政府部门, 金安 in 资金安排
                if (
                    entry.short
                    and text.startswith(self._zone_suffixes, match.end())
                    and all(p.kind not in (CITY, PROVINCE) for p in entry.places)
                ):
                    continue  # 东湖高新区 is a zone, not 东湖区 (肇庆高新区 is 肇庆's)
                candidates = entry.places
            else:
                candidates = [self._short[surface]]
            raw.append((candidates, surface, match.start(), match.end()))
        certain = [c[0] for c, *_ in raw if len(c) == 1]
        found = []
        for candidates, surface, start, end in raw:
            place = candidates[0]
            if len(candidates) > 1:
                place = next(
                    (c for c in candidates if any(c != o and c.within(o) for o in certain)),
                    place,
                )
            found.append(PlaceMatch(place, surface, start, end))
        return found

    def _inside_word(self, text: str, start: int, end: int) -> bool:
        """A short name whose first or last character forms a common word with its neighbour."""
        before = text[start - 1 : start + 1] if start > 0 else ""
        after = text[end - 1 : end + 1] if end < len(text) else ""
        return any(
            pair in self._words and pair not in self._surfaces for pair in (before, after) if pair
        )

    def find(self, text: str) -> list[Place]:
        """The places ``text`` names, each once, in order of first mention."""
        seen: dict[tuple[str, str | None], Place] = {}
        for match in self.matches(text):
            seen.setdefault((match.place.name, match.place.city), match.place)
        return list(seen.values())

    def lookup(self, name: str) -> Place | None:
        """The place a name stands for: 宝安, 宝安区, 鹏城."""
        name = name.strip()
        if not name:
            return None
        places = self._surfaces_for(name)
        if places:
            return places[0]
        return self._short.get(name)

    def city_of(self, name: str) -> str | None:
        """The city a city, district or town belongs to; None for provinces and unknown names."""
        place = self.lookup(name)
        if place is None or place.kind == PROVINCE:
            return None
        return place.city

    def province(self, name: str) -> Place | None:
        """The province entry of a province's short name (广东)."""
        return next((p for p in self._places if p.kind == PROVINCE and p.name == name), None)

    def province_of_abbreviation(self, char: str) -> Place | None:
        """The province a one-character name stands for (粤 → 广东)."""
        name = self._abbreviations.get(char)
        return self.province(name) or self.city(name) if name else None

    def city(self, name: str) -> Place | None:
        """The city entry of a city's short name (深圳)."""
        return next((p for p in self._places if p.kind == CITY and p.name == name), None)

    def cities(self) -> list[str]:
        """Every city known, in the order of preference (the corpus's home province first)."""
        return [p.name for p in self._places if p.kind == CITY]

    def places_of(self, city: str) -> list[Place]:
        """The districts and towns of a city, in the order of the data."""
        return [p for p in self._places if p.city == city and p.kind not in (CITY, PROVINCE)]


# -- Building the gazetteer from its data ----------------------------------------------------


def short_name(full: str, suffixes: Iterable[str]) -> str:
    """广东省 → 广东, 广西壮族自治区 → 广西, 延边朝鲜族自治州 → 延边, 南山区 → 南山."""
    if match := _ETHNIC_AUTONOMY.match(full):
        return match.group("stem")
    for suffix in sorted(suffixes, key=len, reverse=True):
        if full.endswith(suffix) and len(full) - len(suffix) >= 2:
            return full[: -len(suffix)]
    return full


def _divisions(path: Path, suffixes: list[str]) -> list[Place]:
    """Provinces, prefecture cities and county-level places from the adcode dataset."""
    rows = []
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rows.append((row["adcode"][:6], row["name"].strip()))
    provinces = {code[:2]: name for code, name in rows if code[2:] == "0000"}
    cities = {code[:4]: name for code, name in rows if code[4:] == "00" and code[2:] != "0000"}
    places: list[Place] = []
    for code, full in rows:
        province_full = provinces.get(code[:2])
        if province_full is None:
            continue
        province = short_name(province_full, suffixes)
        municipality = province_full.endswith("市")
        if code[2:] == "0000":
            kind, city = (CITY, province) if municipality else (PROVINCE, None)
            places.append(Place(province, kind, city, province, full, code))
        elif code[4:] == "00":
            if municipality:
                continue  # 北京市 listed again as its own city
            places.append(Place(short_name(full, suffixes), CITY, None, province, full, code))
        else:
            city_full = cities.get(code[:4])
            if municipality:
                city = province
            elif city_full is None:
                continue  # 省直辖县: no prefecture city
            else:
                city = short_name(city_full, suffixes)
            places.append(Place(short_name(full, suffixes), DISTRICT, city, province, full, code))
    fixed = []
    for place in places:
        if place.kind == CITY and place.city is None:
            place = Place(place.name, CITY, place.name, place.province, place.full, place.code)
        fixed.append(place)
    return fixed


def parse_places(
    data: Mapping[str, object], divisions: Iterable[Place], word_frequency: Mapping[str, int]
) -> Gazetteer:
    """Build a gazetteer from the parsed places file and the administrative divisions.

    ``word_frequency`` (jieba's general-Chinese counts) marks short names that are common words
    (和平, 城区): those count only with their suffix (和平区).
    """
    suffixes = [str(s) for s in _list(data.get("suffixes"))]
    preferred = [str(p) for p in _list(data.get("preferred_provinces"))]
    rank = {name: i for i, name in enumerate(preferred)}
    places = sorted(divisions, key=lambda p: rank.get(p.province or "", len(rank)))
    by_city = {p.name: p for p in places if p.kind == CITY}
    known = {(p.full, p.city) for p in places}
    for entry in _list(data.get("city")):
        city = by_city.get(str(entry["name"]))
        if city is None:
            continue
        for kind, key, suffix in ((DISTRICT, "zones", ""), (TOWN, "towns", "镇")):
            for name in _list(entry.get(key)):
                name, full = (str(name), "") if isinstance(name, str) else _named(name)
                full = full or (name if any(name.endswith(s) for s in suffixes) else name + suffix)
                if (full, city.name) not in known and (name + "区", city.name) not in known:
                    places.append(Place(name, kind, city.name, city.province, full))
                    known.add((full, city.name))

    strict = {str(s) for s in _list(data.get("strict"))}
    common = _dict(data.get("common_word"))
    threshold = int(common.get("min_frequency", 500))
    generic = int(common.get("max_sharing", 3))
    short_forms: dict[str, list[Place]] = {}
    for place in places:
        name = place.name
        if name == place.full or len(name) < 2:
            continue
        short_forms.setdefault(name, []).append(place)
    upper = {p.name for p in places if p.kind in (PROVINCE, CITY)}
    kept: dict[str, list[Place]] = {}
    for name, sharing in short_forms.items():
        lower = [p for p in sharing if p.kind not in (PROVINCE, CITY)]
        if name in strict:
            continue
        if lower and (
            name in upper  # 长沙县 is not 长沙
            or len(lower) >= generic  # 城关, 新华: a name many counties share
            or word_frequency.get(name, 0) >= threshold
        ):
            sharing = [p for p in sharing if p.kind in (PROVINCE, CITY)]
        if sharing:
            kept[name] = sharing
    # a county whose short name does not count on its own is named in full (长沙县, 和平区)
    places = [
        p
        if p.kind in (PROVINCE, CITY) or p in kept.get(p.name, ()) or p.name == p.full
        else replace(p, name=p.full)
        for p in places
    ]
    kept = {
        name: [p if p.name == name else replace(p, name=name) for p in sharing]
        for name, sharing in kept.items()
    }
    aliases = {str(k): str(v) for k, v in _dict(data.get("aliases")).items()}
    context = data.get("short_name_context", {})
    return Gazetteer(
        places,
        short_forms=kept,
        aliases=aliases,
        not_places=[str(s) for s in _list(data.get("not_places"))],
        short_names={str(k): str(v) for k, v in _dict(data.get("short_names")).items()},
        short_before=[str(s) for s in _list(_get(context, "before"))],
        short_after=[str(s) for s in _list(_get(context, "after"))],
        word_frequency=word_frequency,
        word_min_frequency=int(common.get("boundary_frequency", 1000)),
        zone_suffixes=[str(s) for s in _list(data.get("zone_suffixes"))],
        province_abbreviations={
            str(k): str(v) for k, v in _dict(data.get("province_abbreviations")).items()
        },
    )


def _named(entry: object) -> tuple[str, str]:
    table = _dict(entry)
    return str(table["name"]), str(table.get("full", ""))


def _list(value: object) -> list:
    return list(value) if isinstance(value, list) else []


def _dict(value: object) -> dict:
    return dict(value) if isinstance(value, dict) else {}


def _get(table: object, key: str) -> object:
    return table.get(key) if isinstance(table, dict) else None


def _jieba_frequencies() -> dict[str, int]:
    """jieba's general-Chinese counts of common words that are not place names (its ``ns``
    tag), read from its dictionary file (no model load)."""
    import jieba

    frequencies: dict[str, int] = {}
    with (Path(jieba.__file__).parent / "dict.txt").open(encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) >= 3 and 2 <= len(parts[0]) <= 4 and parts[2] != "ns":
                frequencies[parts[0]] = int(parts[1])
    return frequencies


@cache
def load_gazetteer(
    path: Path = PLACES_FILE, divisions: Path = DIVISIONS_FILE, cache_dir: Path | None = None
) -> Gazetteer:
    """The gazetteer of the data files, read once per process (from ``cache_dir`` when an
    earlier process built it from the same files: a tenth of the time)."""
    import jieba

    def build() -> Gazetteer:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        suffixes = [str(s) for s in _list(data.get("suffixes"))]
        return parse_places(data, _divisions(divisions, suffixes), _jieba_frequencies())

    inputs = [path, divisions, Path(__file__), f"jieba {jieba.__version__}"]
    return cached("gazetteer", inputs, build, cache_dir)


def level_rank(level: str | None) -> int:
    """How specific a level is: district 3, city 2, province 1, national 0, unknown -1."""
    return {DISTRICT: 3, CITY: 2, PROVINCE: 1, NATIONAL: 0}.get(level or "", -1)


__all__ = [
    "CITY",
    "DISTRICT",
    "NATIONAL",
    "PROVINCE",
    "TOWN",
    "Gazetteer",
    "Place",
    "PlaceMatch",
    "level_rank",
    "load_gazetteer",
    "short_name",
]
